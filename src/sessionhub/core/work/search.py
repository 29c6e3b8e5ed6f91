"""Find work sessions: full text over name, description, goals and comments, with filters,
sorting and keyset pagination. A user finds only the sessions they are a member of."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import orjson

from sessionhub.clock import to_ms
from sessionhub.core.pagination import check_limit
from sessionhub.core.work.access import check_actor, to_model
from sessionhub.core.work.notify import Part
from sessionhub.errors import InvalidInput
from sessionhub.models import Page
from sessionhub.models.work import WorkSession
from sessionhub.storage import work as wq


def encode_key(value: Any, tiebreak: Any) -> str:
    """An opaque cursor for a (sort value, tiebreak) position."""
    return base64.urlsafe_b64encode(orjson.dumps([value, tiebreak])).decode().rstrip("=")


def decode_key(cursor: str | None, kinds: tuple[type, type]) -> tuple[Any, Any] | None:
    """The position in a cursor from ``encode_key``; a damaged or foreign one is a 422."""
    if not cursor:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        value = None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(part) is kind for part, kind in zip(value, kinds, strict=True))
    ):
        raise InvalidInput("The cursor is not one this API gave out.", details={"field": "cursor"})
    return value[0], value[1]


class Search(Part):
    async def list(
        self,
        app_id: str,
        actor: str,
        *,
        q: str | None = None,
        status: str | None = None,
        priority: str | None = None,
        type: str | None = None,
        template_id: str | None = None,
        owner: str | None = None,
        collaborator: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        sort: str = "-created_at",
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[WorkSession]:
        """A page of the actor's work sessions matching every given filter, in ``sort`` order.

        Archived sessions are left out unless ``status=archived`` asks for them.
        """
        check_actor(actor)
        check_limit(limit)
        if sort not in wq.SORTS:
            raise InvalidInput(f"Unknown sort {sort!r}.", details={"field": "sort"})
        column = wq.SORTS[sort][0]
        after = decode_key(cursor, (str if column == "name" else int, int))
        filters = {
            "q": q,
            "status": status,
            "priority": priority,
            "type": type,
            "template_id": template_id,
            "owner_id": owner,
            "collaborator": collaborator,
            "created_from": to_ms(created_from) if created_from else None,
            "created_to": to_ms(created_to) if created_to else None,
        }
        rows = await self._db.read(
            wq.search, app_id, actor, filters, sort, limit + 1, after, heavy=True
        )
        now = self._clock.now_ms()
        items = [to_model(row, row["actor_role"], now) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_key(last[column], last["session_sid"])
        return Page[WorkSession](items=items, next_cursor=next_cursor)
