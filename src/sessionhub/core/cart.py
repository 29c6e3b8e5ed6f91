"""A session's shopping cart: items by sku, exact decimal prices, totals as strings.

Prices are ``Decimal`` from the wire to the total and are stored as text, so no float ever
touches money. Every change runs under the session's row lock inside one write: adding a
sku twice at once from two requests always ends with the sum of both quantities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping

from sessionhub.clock import from_ms
from sessionhub.core.session_rows import check_json_size, existing_session, locked_session
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models import Cart as CartModel
from sessionhub.models import CartItem, CartItemIn
from sessionhub.storage import memory as mq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

MAX_QUANTITY = 100_000
MAX_LINES = 500


def price_text(value: Decimal) -> str:
    """Render a price or total as a plain decimal string (never exponent notation)."""
    text = format(value, "f")
    return text


def cart_model(rows: Sequence[Mapping[Any, Any]]) -> CartModel:
    items = []
    total = Decimal(0)
    for row in rows:
        price = Decimal(row["price"])
        subtotal = price * row["quantity"]
        total += subtotal
        items.append(
            CartItem(
                sku=row["sku"],
                name=row["name"],
                category=row["category"],
                price=price_text(price),
                quantity=row["quantity"],
                subtotal=price_text(subtotal),
                metadata=row["meta"],
                added_at=from_ms(row["added_at"]),
                updated_at=from_ms(row["updated_at"]),
            )
        )
    return CartModel(
        items=items, item_count=sum(row["quantity"] for row in rows), total=price_text(total)
    )


def _no_item(session_id: str, sku: str) -> NotFound:
    return NotFound(
        f"The cart of session {session_id!r} has no item {sku!r}.",
        details={"session_id": session_id, "sku": sku},
    )


def _too_many(quantity: int) -> InvalidInput:
    return InvalidInput(
        f"quantity would be {quantity}; the limit is {MAX_QUANTITY}.",
        details={"field": "quantity", "limit": MAX_QUANTITY},
    )


def _add(
    conn: Connection, app_id: str, session_id: str, item: CartItemIn, now: int
) -> list[RowMapping]:
    sid = locked_session(conn, app_id, session_id)["sid"]
    current = mq.cart_item(conn, sid, item.sku)
    values: dict[str, Any] = {
        "name": item.name,
        "category": item.category,
        "price": price_text(item.price),
        "meta": item.metadata,
        "updated_at": now,
    }
    if current is None:
        if len(mq.cart(conn, sid)) >= MAX_LINES:
            raise InvalidInput(
                f"The cart already has {MAX_LINES} different items.",
                details={"field": "sku", "limit": MAX_LINES},
            )
        mq.insert_cart_item(
            conn,
            {
                **values,
                "session_sid": sid,
                "sku": item.sku,
                "quantity": item.quantity,
                "added_at": now,
            },
        )
    else:
        quantity = current["quantity"] + item.quantity
        if quantity > MAX_QUANTITY:
            raise _too_many(quantity)
        mq.update_cart_item(conn, sid, item.sku, {**values, "quantity": quantity})
    return mq.cart(conn, sid)


def _set_quantity(
    conn: Connection, app_id: str, session_id: str, sku: str, quantity: int, now: int
) -> list[RowMapping]:
    sid = locked_session(conn, app_id, session_id)["sid"]
    if mq.cart_item(conn, sid, sku) is None:
        raise _no_item(session_id, sku)
    mq.update_cart_item(conn, sid, sku, {"quantity": quantity, "updated_at": now})
    return mq.cart(conn, sid)


def _remove(conn: Connection, app_id: str, session_id: str, sku: str) -> list[RowMapping]:
    sid = locked_session(conn, app_id, session_id)["sid"]
    if mq.delete_cart_item(conn, sid, sku) == 0:
        raise _no_item(session_id, sku)
    return mq.cart(conn, sid)


def _clear(conn: Connection, app_id: str, session_id: str) -> int:
    return mq.clear_cart(conn, locked_session(conn, app_id, session_id)["sid"])


def _get(conn: Connection, app_id: str, session_id: str) -> list[RowMapping]:
    return mq.cart(conn, existing_session(conn, app_id, session_id)["sid"])


class Cart:
    """What the session's user is about to buy."""

    def __init__(self, engine: Engine):
        self._db = engine.db
        self._clock = engine.clock

    async def get(self, app_id: str, session_id: str) -> CartModel:
        return cart_model(await self._db.read(_get, app_id, session_id))

    async def add(self, app_id: str, session_id: str, item: CartItemIn) -> CartModel:
        """Add an item; a sku already in the cart gets the quantity added (and the new name/price)."""
        check_json_size(item.metadata, "metadata")
        now = self._clock.now_ms()
        return cart_model(await self._db.write(_add, app_id, session_id, item, now))

    async def set_quantity(
        self, app_id: str, session_id: str, sku: str, quantity: int
    ) -> CartModel:
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(
                f"quantity must be between 1 and {MAX_QUANTITY}; remove the item instead of 0.",
                details={"field": "quantity"},
            )
        now = self._clock.now_ms()
        return cart_model(
            await self._db.write(_set_quantity, app_id, session_id, sku, quantity, now)
        )

    async def remove(self, app_id: str, session_id: str, sku: str) -> CartModel:
        return cart_model(await self._db.write(_remove, app_id, session_id, sku))

    async def clear(self, app_id: str, session_id: str) -> int:
        """Empty the cart; return how many different items it had."""
        return await self._db.write(_clear, app_id, session_id)
