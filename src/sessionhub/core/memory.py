"""Conversation memory: a session's messages, their history TTL, paging and budgets.

A message appends under the session's row lock, so concurrent appends to one session
get one stable order (their sequence numbers) and the history TTL moves atomically with
them. History expires after the app's ``history_ttl_s`` without a new message: from
that moment every read sees it empty, the next append starts a new history, and the
worker removes the old messages.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection, RowMapping

from sessionhub.clock import from_ms
from sessionhub.core.cart import cart_model
from sessionhub.core.pagination import check_limit, decode_cursor, encode_cursor
from sessionhub.core.session_rows import (
    MAX_METADATA_BYTES,
    check_json_size,
    existing_session,
    history_alive,
    locked_session,
)
from sessionhub.core.sessions import (
    ENGAGEMENT_GAP_MS,
    effective_end,
    ended_error,
    to_model,
    touch_session,
)
from sessionhub.core.topics import top_topics
from sessionhub.errors import Conflict, InvalidInput, NotFound
from sessionhub.ids import new_id
from sessionhub.models import (
    Budget,
    Conversation,
    Direction,
    Message,
    MessageCount,
    MessageIn,
    Messages,
    Page,
    SessionCreate,
    SessionInfo,
    StopwordLanguage,
)
from sessionhub.models.common import unstorable
from sessionhub.storage import memory as mq
from sessionhub.storage import sessions as session_queries
from sessionhub.storage.memory import MessageRecord as MessageRecord
from sessionhub.storage.prepared import Row, single_statement

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

_BACKWARD, _FORWARD = 0, 1
NO_MESSAGES = ""  # ``expect_last`` for a history that must be empty
_BUDGET_CHUNK = 200
_TOPIC_SAMPLE = 1000


# Validating a whole list in pydantic-core is several times faster than building models one
# by one (even with model_construct), and reading the last N is the hot path of a chat.
# Rows carry the model's field names and epoch ms (see storage.memory.MESSAGE).
_MESSAGE_LIST = TypeAdapter(list[Message])


def message_model(row: Mapping[Any, Any]) -> Message:
    return Message.model_validate(dict(row))


def message_models(rows: Sequence[Mapping[Any, Any]]) -> list[Message]:
    return _MESSAGE_LIST.validate_python(rows)


def _message_ids(count: int) -> list[str]:
    """``count`` new message ids shaped as ``new_id("msg")``: 22 URL-safe base64 characters.

    One read of the OS's randomness and one encoding for all of them: each id is 22 of
    its characters, 132 random bits.
    """
    if count == 1:
        return [new_id("msg")]
    chars = 22 * count
    text = base64.urlsafe_b64encode(os.urandom(-(-chars // 4) * 3)).decode()
    return ["msg_" + text[i : i + 22] for i in range(0, chars, 22)]


def _check_storable(messages: Sequence[MessageIn]) -> None:
    """Refuse what no backend can store (NUL, huge integers, deep nesting), naming where.

    MessageIn has no per-model check (a BulkInput): one pass over all the contents (a flat
    list of strings, so one C-level encoding) and one per non-empty metadata is cheaper
    than one per message, and the message that failed is found only then.
    """
    if unstorable([m.content for m in messages]) is None and all(
        unstorable(m.metadata) is None for m in messages if m.metadata
    ):
        return
    for index, message in enumerate(messages):
        for field in ("content", "metadata"):
            problem = unstorable(getattr(message, field))
            if problem is not None:
                raise InvalidInput(
                    f"messages.{index}.{field}: {problem}",
                    details={"field": f"messages.{index}.{field}"},
                )


def estimate_tokens(content: str) -> int:
    """A tokenizer-free estimate: about four characters per token for English text."""
    return math.ceil(len(content) / 4)


# -- writes (each runs atomically inside the writer's transaction) --------------------------


def _append(
    conn: Connection,
    app_id: str,
    session_id: str,
    rows: list[dict[str, Any]],
    ttl_ms: int | None,
    now: int,
    expect_last: str | None = None,
) -> dict[str, RowMapping]:
    """Append ``rows``; return the messages already stored under their client ids.

    The common case is three statements: the touch (which also takes the session's row
    lock, and finds no row when the session is gone or has ended), the history's new
    expiry, and the insert. With ``expect_last`` the newest message is checked first,
    under that lock: the check and the append are one atomic step.
    """
    sid = session_queries.touch_running(conn, app_id, session_id, now, ENGAGEMENT_GAP_MS)
    if sid is None:  # not running: no such session (404), it ended, or a race to retry
        session = touch_session(conn, app_id, session_id, now)
        if effective_end(session, now) is not None:
            raise ended_error(session_id, session, now)
        sid = session["sid"]
    expires = now + ttl_ms if ttl_ms is not None else None
    if expect_last is not None:
        _check_last(conn, session_id, sid, now, expect_last)
    if not mq.extend_history(conn, sid, expires, now):
        # No history yet, or it expired: an expired history is gone; this starts a new one.
        mq.restart_history(conn, sid, app_id, expires, now)
    client_ids = [row["client_id"] for row in rows if row["client_id"] is not None]
    if not client_ids:  # the common case: every row is new
        mq.insert_messages(conn, sid, rows)
        return {}
    existing = mq.by_client_ids(conn, sid, client_ids)
    fresh: list[dict[str, Any]] = []
    pending: set[str] = set()
    for row in rows:
        client_id = row["client_id"]
        if client_id is None or (client_id not in existing and client_id not in pending):
            fresh.append(row)
            if client_id is not None:
                pending.add(client_id)
    if fresh:
        mq.insert_messages(conn, sid, fresh)
    return existing


def _check_last(conn: Connection, session_id: str, sid: int, now: int, expected: str) -> None:
    """409 ``stale_history`` unless the live history's newest message is ``expected``."""
    newest = mq.last_messages(conn, sid, 1) if history_alive(mq.get_memory(conn, sid), now) else []
    actual = newest[0]["id"] if newest else NO_MESSAGES
    if actual != expected:
        raise Conflict(
            f"Session {session_id!r} has messages this caller has not seen: reload it.",
            details={"session_id": session_id, "expected_last": expected, "last": actual},
            code="stale_history",
        )


def _pop(conn: Connection, app_id: str, session_id: str, now: int) -> RowMapping | None:
    sid = locked_session(conn, app_id, session_id)["sid"]
    if not history_alive(mq.get_memory(conn, sid), now):
        return None
    newest = mq.last_messages(conn, sid, 1)
    if not newest:
        return None
    mq.delete_message(conn, newest[0]["seq"])
    return newest[0]


def _clear(conn: Connection, app_id: str, session_id: str, now: int) -> int:
    sid = locked_session(conn, app_id, session_id)["sid"]
    alive = history_alive(mq.get_memory(conn, sid), now)
    removed = mq.delete_history(conn, sid)
    return removed if alive else 0


# -- reads ----------------------------------------------------------------------------------


def _live_sid(conn: Connection, app_id: str, session_id: str, now: int) -> int | None:
    """The session's sid if its history is alive, None if it has none (404 if no session)."""
    sid: int = existing_session(conn, app_id, session_id)["sid"]
    return sid if history_alive(mq.get_memory(conn, sid), now) else None


# One statement, bar the 404 check of an empty page: a concurrent write between the two
# can only turn that 404 into an empty page, which it may as well have been.
@single_statement
def _page(
    conn: Connection,
    app_id: str,
    session_id: str,
    now: int,
    limit: int | None,
    direction: int,
    position: int | None,
) -> tuple[list[Row], bool]:
    backward = direction == _BACKWARD
    fetch = limit + 1 if limit is not None else None
    rows = mq.history_page(conn, app_id, session_id, now, fetch, backward, position)
    if not rows:
        existing_session(conn, app_id, session_id)  # no session is a 404, not an empty page
        return [], False
    more = limit is not None and len(rows) > limit
    page = rows[:limit] if more else rows
    if backward:
        page.reverse()
    return page, more


@single_statement
def _records(
    conn: Connection, app_id: str, session_id: str, now: int, limit: int | None
) -> list[mq.MessageRecord]:
    records = mq.history_records(conn, app_id, session_id, now, limit)
    if not records:
        existing_session(conn, app_id, session_id)  # no session is a 404, not an empty history
    return records


def _budget(
    conn: Connection, app_id: str, session_id: str, now: int, unit: str, budget: int
) -> list[RowMapping]:
    sid = _live_sid(conn, app_id, session_id, now)
    if sid is None:
        return []
    kept = mq.system_messages(conn, sid)
    left = budget - sum(row[unit] for row in kept)
    before: int | None = None
    while left > 0:
        chunk = mq.newest_non_system(conn, sid, before, _BUDGET_CHUNK)
        for row in chunk:
            if row[unit] > left:
                left = 0  # keep the window contiguous: stop at the first that does not fit
                break
            kept.append(row)
            left -= row[unit]
        if len(chunk) < _BUDGET_CHUNK:
            break
        before = chunk[-1]["seq"]
    return sorted(kept, key=lambda row: int(row["seq"]))


def _count(conn: Connection, app_id: str, session_id: str, now: int) -> dict[str, int]:
    sid = _live_sid(conn, app_id, session_id, now)
    return {} if sid is None else mq.count_by_role(conn, sid)


def _conversations(
    conn: Connection,
    app_id: str,
    user_id: str,
    now: int,
    limit: int,
    after: tuple[int, int] | None,
) -> list[tuple[RowMapping, RowMapping, int, int]]:
    found = []
    for row in mq.user_conversations(conn, app_id, user_id, now, limit, after):
        first = mq.message_at(conn, row["first_seq"])
        count, newest = mq.history_summary(conn, row["sid"])
        found.append((row, first, count, newest))
    return found


def _info(
    conn: Connection, app_id: str, session_id: str, now: int, topic_sample: int
) -> tuple[Row, RowMapping | None, dict[str, int], list[str], list[RowMapping]]:
    session = existing_session(conn, app_id, session_id)
    sid = session["sid"]
    memory = mq.get_memory(conn, sid)
    alive = history_alive(memory, now)
    by_role = mq.count_by_role(conn, sid) if alive else {}
    texts = mq.user_contents(conn, sid, topic_sample) if alive else []
    return session, memory, by_role, texts, mq.cart(conn, sid)


# -- the capability -------------------------------------------------------------------------


class Memory:
    """A session's conversation: append, read back in pages or within a budget, pop, clear."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._db = engine.db
        self._clock = engine.clock

    async def add(
        self,
        app_id: str,
        session_id: str,
        message: MessageIn,
        *,
        create: bool = False,
        user_id: str | None = None,
    ) -> Message:
        """Append one message (see ``append``)."""
        stored = await self.append(app_id, session_id, [message], create=create, user_id=user_id)
        return stored[0]

    async def append(
        self,
        app_id: str,
        session_id: str,
        messages: list[MessageIn],
        *,
        create: bool = False,
        user_id: str | None = None,
        expect_last: str | None = None,
    ) -> list[Message]:
        """Append messages in order; a repeated ``client_id`` returns the stored message.

        With ``create`` a missing session is created first (kind ``conversation``, owned
        by ``user_id``): the get-or-create chat apps expect when they choose the ids.
        With ``expect_last`` (the id of the newest message the caller has seen, or
        ``NO_MESSAGES``) nothing is stored when another message has come since: a 409
        ``stale_history``, checked atomically with the append (optimistic concurrency).
        """
        if not messages:
            raise InvalidInput("Send at least one message.", details={"field": "messages"})
        _check_storable(messages)
        settings = await self._engine.apps.settings(app_id)
        ttl_ms = settings.history_ttl_s * 1000 if settings.history_ttl_s is not None else None
        now = self._clock.now_ms()
        rows: list[dict[str, Any]] = []
        ids = _message_ids(len(messages))
        for index, message in enumerate(messages):
            metadata = message.metadata
            meta_json = "{}"
            if metadata:  # encoded once: for its size, and as it is stored
                try:
                    encoded = orjson.dumps(metadata)
                except orjson.JSONEncodeError:
                    encoded = b""
                if not encoded or len(encoded) > MAX_METADATA_BYTES:
                    check_json_size(metadata, f"messages.{index}.metadata")  # says what is wrong
                meta_json = encoded.decode()
            content, tokens = message.content, message.tokens
            rows.append(
                {
                    "id": ids[index],
                    "client_id": message.client_id,
                    "role": message.role,
                    "content": content,
                    "metadata": metadata,
                    "meta_json": meta_json,
                    "chars": len(content),
                    "tokens": tokens if tokens is not None else estimate_tokens(content),
                    "created_at": now,
                }
            )
        sealer = self._engine.encryption.sealer
        if sealer is not None:
            for row in rows:
                row["sealed"] = sealer.seal_text(row["content"], "messages.content")
        try:
            existing = await self._db.write(
                _append, app_id, session_id, rows, ttl_ms, now, expect_last
            )
        except NotFound:
            if not create:
                raise
            try:
                request = SessionCreate(id=session_id, kind="conversation", user_id=user_id)
            except ValidationError as exc:  # an id or user id no session may have
                raise InvalidInput.from_validation(exc) from exc
            await self._engine.sessions.create(app_id, request)
            existing = await self._db.write(
                _append, app_id, session_id, rows, ttl_ms, now, expect_last
            )
        if sealer is not None:
            for row in rows:
                del row["sealed"]
        stored: list[Mapping[Any, Any]] = []
        first: dict[str, Mapping[Any, Any]] = {}
        for row in rows:
            client_id = row["client_id"]
            if client_id is not None:
                if client_id in existing:
                    stored.append(existing[client_id])
                    continue
                if client_id in first:  # said twice in one batch: stored once
                    stored.append(first[client_id])
                    continue
                first[client_id] = row
            stored.append(row)
        return message_models(stored)

    async def last(self, app_id: str, session_id: str, limit: int = 20) -> Messages:
        """The newest ``limit`` messages, oldest first; ``next_cursor`` pages further back."""
        return await self.page(app_id, session_id, limit=limit)

    async def page(
        self,
        app_id: str,
        session_id: str,
        *,
        limit: int = 20,
        cursor: str | None = None,
        direction: Direction = "backward",
    ) -> Messages:
        """A page of messages, always oldest first within the page.

        ``backward`` starts at the newest and its cursor goes to older messages; ``forward``
        starts at the oldest and goes to newer ones. A cursor keeps its own direction.
        """
        check_limit(limit)
        way, position = _BACKWARD if direction == "backward" else _FORWARD, None
        decoded = decode_cursor(cursor)
        if decoded is not None:
            way, position = decoded
            if way not in (_BACKWARD, _FORWARD):
                raise InvalidInput(
                    "The cursor is not one this API gave out.", details={"field": "cursor"}
                )
        now = self._clock.now_ms()
        rows, more = await self._db.read(_page, app_id, session_id, now, limit, way, position)
        next_cursor = None
        if more and rows:
            edge = rows[0]["seq"] if way == _BACKWARD else rows[-1]["seq"]
            next_cursor = encode_cursor(way, edge)
        return Messages(items=message_models(rows), next_cursor=next_cursor)

    async def history(self, app_id: str, session_id: str) -> list[Message]:
        """The whole live history, oldest first, in one query ([] when it expired)."""
        now = self._clock.now_ms()
        rows, _ = await self._db.read(_page, app_id, session_id, now, None, _FORWARD, None)
        with mq.collector_paused():
            return message_models(rows)

    async def records(
        self, app_id: str, session_id: str, limit: int | None = None
    ) -> list[MessageRecord]:
        """The newest ``limit`` messages (the whole live history when None), oldest first,
        as plain records: what adapters turn into their framework's items.

        One query and one tuple a message: a 10,000-message history loads several times
        faster than as models (``history``).
        """
        if limit is not None and limit < 1:
            raise InvalidInput("limit must be at least 1.", details={"field": "limit"})
        now = self._clock.now_ms()
        return await self._db.read(_records, app_id, session_id, now, limit)

    async def within_budget(self, app_id: str, session_id: str, budget: Budget) -> Messages:
        """The most recent messages that fit the budget, plus every system message, in order.

        System messages count against the budget but are kept even when they alone exceed
        it; the other messages are taken newest first up to the first that no longer fits.
        """
        if (budget.max_chars is None) == (budget.max_tokens is None):
            raise InvalidInput(
                "Give exactly one of max_chars and max_tokens.", details={"field": "max_chars"}
            )
        unit, amount = (
            ("chars", budget.max_chars)
            if budget.max_chars is not None
            else ("tokens", budget.max_tokens)
        )
        assert amount is not None
        now = self._clock.now_ms()
        rows = await self._db.read(_budget, app_id, session_id, now, unit, amount)
        return Messages(items=message_models(rows))

    async def count(self, app_id: str, session_id: str) -> MessageCount:
        by_role = await self._db.read(_count, app_id, session_id, self._clock.now_ms())
        return MessageCount(count=sum(by_role.values()), by_role=by_role)

    async def pop(self, app_id: str, session_id: str) -> Message | None:
        """Remove and return the newest message (None when the history is empty)."""
        row = await self._db.write(_pop, app_id, session_id, self._clock.now_ms())
        return message_model(row) if row is not None else None

    async def clear(self, app_id: str, session_id: str) -> int:
        """Remove the whole history; return how many messages it had."""
        return await self._db.write(_clear, app_id, session_id, self._clock.now_ms())

    async def info(
        self,
        app_id: str,
        session_id: str,
        *,
        topics: int = 5,
        language: StopwordLanguage | None = None,
    ) -> SessionInfo:
        """What the session knows: timing, messages by role, preferences, cart, top topics.

        Topics come from the newest 1,000 user messages; ``language`` picks the stopwords
        (default: the app's ``stopword_language``).
        """
        if not 0 <= topics <= 50:
            raise InvalidInput("topics must be between 0 and 50.", details={"field": "topics"})
        if language is None:
            language = (await self._engine.apps.settings(app_id)).stopword_language
        now = self._clock.now_ms()
        session, memory, by_role, texts, cart = await self._db.read(
            _info, app_id, session_id, now, _TOPIC_SAMPLE, heavy=True
        )
        view = to_model(session, now)
        alive = history_alive(memory, now)
        expires = memory["history_expires_at"] if memory is not None and alive else None
        return SessionInfo(
            session_id=view.id,
            status=view.status,
            user_id=view.user_id,
            created_at=view.started_at,
            last_active_at=view.last_activity_at,
            duration_s=view.duration_s,
            message_count=sum(by_role.values()),
            messages_by_role=by_role,
            history_expires_at=from_ms(expires) if expires is not None else None,
            preferences=dict(memory["preferences"]) if memory is not None else {},
            cart=cart_model(cart),
            top_topics=top_topics(texts, language, topics),
        )

    async def conversations(
        self, app_id: str, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Conversation]:
        """The user's conversations with a live history, newest first, titled by their first message."""
        check_limit(limit)
        after = decode_cursor(cursor)
        now = self._clock.now_ms()
        found = await self._db.read(
            _conversations, app_id, user_id, now, limit + 1, after, heavy=True
        )
        items = [
            Conversation(
                session_id=row["id"],
                title=first["content"][:100],
                message_count=count,
                started_at=from_ms(row["started_at"]),
                last_message_at=from_ms(newest),
                status="ended" if effective_end(row, now) else "active",
            )
            for row, first, count, newest in found[:limit]
        ]
        next_cursor = None
        if len(found) > limit:
            last = found[limit - 1][0]
            next_cursor = encode_cursor(last["started_at"], last["sid"])
        return Page[Conversation](items=items, next_cursor=next_cursor)
