"""Conversation memory and session state: messages, preferences, cart, state, cache, shares."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

from sessionhub.models.common import BulkInput, ExternalId, Input, Output, Seconds, ShortText

Role = Literal["user", "assistant", "system", "tool"]
StateScope = Literal["session", "user", "app"]
CacheScope = Literal["session", "app"]
Direction = Literal["backward", "forward"]
StopwordLanguage = Literal["en", "de", "fr", "es", "it", "nl", "pt"]

MAX_CONTENT_CHARS = 200_000
MAX_PRICE = Decimal("1e12")

StateKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Quantity = Annotated[int, Field(ge=1, le=100_000)]


def _to_decimal(value: Any) -> Any:
    """Take a price as a JSON string or number and make it an exact Decimal.

    A JSON number with a fraction arrives as a float; its shortest repr is the literal
    the caller wrote, so ``Decimal(repr(x))`` keeps it exact ("9.99", not 9.9900000001).
    """
    if isinstance(value, bool):
        raise ValueError("a price is a decimal string or a number, not a boolean")
    if isinstance(value, int | float | str):
        try:
            price = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a decimal number") from exc
        if not price.is_finite():
            raise ValueError("a price must be a finite number")
        return price
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(ge=0, lt=MAX_PRICE, max_digits=20, decimal_places=6),
]


# -- messages -------------------------------------------------------------------------------


class MessageIn(BulkInput):
    """One message to append; core.memory checks a batch's storability in one pass."""

    role: Role
    content: Annotated[str, StringConstraints(max_length=MAX_CONTENT_CHARS)]
    metadata: dict[str, Any] = Field(default_factory=dict)
    client_id: ExternalId | None = Field(
        default=None,
        description="Your id for the message: sending it again returns the stored one.",
    )
    tokens: Annotated[int, Field(ge=0, le=10_000_000)] | None = Field(
        default=None,
        description="Its length in your model's tokens; estimated as ceil(chars / 4) when omitted.",
    )


class MessagesAppend(Input):
    messages: list[MessageIn] = Field(min_length=1, max_length=1000)
    expect_last: str | None = Field(
        default=None,
        max_length=200,
        description=(
            'The id of the newest message the caller has seen ("" for none): when another'
            " message has come since, nothing is stored and the answer is a 409"
            " stale_history (optimistic concurrency)."
        ),
    )


class Message(Output):
    # Messages are built straight from stored rows, the hot path of a chat: epoch ms
    # become datetimes in pydantic-core, and the row's other columns (seq, chars) are
    # left out rather than copied away first.
    model_config = ConfigDict(extra="ignore", val_temporal_unit="milliseconds")

    id: str
    role: Role
    content: str
    metadata: dict[str, Any]
    client_id: str | None
    tokens: int
    created_at: datetime


class Messages(Output):
    """Messages in conversation order (oldest first)."""

    items: list[Message]
    next_cursor: str | None = Field(
        default=None, description="Continues in the same direction; null at the end."
    )


class MessageCount(Output):
    count: int
    by_role: dict[str, int]


class Budget(Input):
    """Read the most recent messages that fit a budget; system messages are always kept."""

    max_chars: Annotated[int, Field(ge=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None


# -- preferences ----------------------------------------------------------------------------


class Preferences(Output):
    preferences: dict[str, Any]


# -- cart -----------------------------------------------------------------------------------


class CartItemIn(Input):
    sku: Sku
    name: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    price: Price
    quantity: Quantity = 1
    category: ShortText | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class CartQuantity(Input):
    quantity: Quantity


class CartItem(Output):
    sku: str
    name: str
    category: str | None
    price: str = Field(description="A decimal string, never a float.")
    quantity: int
    subtotal: str
    metadata: dict[str, Any]
    added_at: datetime
    updated_at: datetime


class Cart(Output):
    items: list[CartItem]
    item_count: int = Field(description="The sum of the quantities.")
    total: str = Field(description="A decimal string, never a float.")


# -- state ----------------------------------------------------------------------------------


class StatePut(Input):
    value: Any
    ttl_s: Seconds | None = Field(default=None, description="Forget the value after this long.")


class StateEntry(Output):
    scope: StateScope
    key: str
    value: Any
    expires_at: datetime | None
    updated_at: datetime


class StateEntries(Output):
    items: list[StateEntry]


# -- response cache -------------------------------------------------------------------------


class CachePut(Input):
    prompt: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTENT_CHARS)]
    response: Annotated[str, StringConstraints(max_length=MAX_CONTENT_CHARS)]
    ttl_s: Seconds | None = Field(default=3600, description="null keeps it until cleared.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class CacheLookup(Input):
    prompt: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTENT_CHARS)]


class CacheEntry(Output):
    scope: CacheScope
    prompt: str
    response: str
    metadata: dict[str, Any]
    hits: int
    created_at: datetime
    expires_at: datetime | None


class CacheResult(Output):
    hit: bool
    entry: CacheEntry | None


class CacheStats(Output):
    scope: CacheScope
    hits: int
    misses: int
    entries: int
    hit_rate: float | None


# -- session info and conversations ----------------------------------------------------------


class Topic(Output):
    word: str
    count: int


class SessionInfo(Output):
    session_id: str
    status: str
    user_id: str | None
    created_at: datetime
    last_active_at: datetime
    duration_s: float
    message_count: int
    messages_by_role: dict[str, int]
    history_expires_at: datetime | None
    preferences: dict[str, Any]
    cart: Cart
    top_topics: list[Topic]


class Conversation(Output):
    session_id: str
    title: str = Field(
        description="The first user message (the first message if none), cut to 100 characters."
    )
    message_count: int
    started_at: datetime
    last_message_at: datetime
    status: str


# -- shares ---------------------------------------------------------------------------------


class ShareCreate(Input):
    expires_in_s: Seconds | None = Field(default=None, description="null: until revoked.")


class Share(Output):
    id: str
    session_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedShare(Share):
    token: str = Field(description="The share token. Shown once; only its hash is stored.")
    path: str = Field(description="Where the transcript is, without a key: /v1/shared/{token}.")


class SharedMessage(Output):
    role: Role
    content: str
    created_at: datetime


class SharedTranscript(Output):
    """What a share link shows: the transcript and nothing else of the session."""

    messages: list[SharedMessage]
    next_cursor: str | None
    expires_at: datetime | None
