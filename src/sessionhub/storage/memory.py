"""Queries for conversation memory and session state: messages, preferences, cart, state,
response cache and share links.

Every function takes a sync ``Connection`` and the session's internal ``sid`` (callers
resolve the public id and take the session's row lock first, in ``core``).
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from sessionhub import crypto
from sessionhub.storage.prepared import Prepared, Row, sqlite_insert
from sessionhub.storage.schema import (
    cart_items,
    messages,
    response_cache,
    response_cache_stats,
    session_memory,
    sessions,
    shares,
    state_entries,
)

m = messages.c
mem = session_memory.c
c = cart_items.c
st = state_entries.c
rc = response_cache.c
rs = response_cache_stats.c
sh = shares.c
s = sessions.c
R = TypeVar("R")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector from running while a whole history's rows are built.

    Tens of thousands of new rows or models trigger collections that walk the whole heap and cost
    more than building them (a 10,000-message load as models: about 40 ms with the pause,
    95 ms without, in a process that had just appended them). Nothing built here is cyclic,
    the code inside must never yield to the event loop, and the collector runs on as usual
    afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _opened(rows: list[R]) -> list[R]:
    """Message rows with their content decrypted (as they are when no key is loaded)."""
    if not crypto.KEYS:  # encryption at rest off: one check, nothing else
        return rows
    return cast(list[R], crypto.open_rows(rows, "content", "messages.content"))  # type: ignore[arg-type]


def _upsert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


# -- the memory row -------------------------------------------------------------------------


def get_memory(conn: Connection, sid: int) -> RowMapping | None:
    return conn.execute(select(session_memory).where(mem.session_sid == sid)).mappings().first()


def ensure_memory(conn: Connection, sid: int, app_id: str, now: int) -> RowMapping:
    """The session's memory row, created empty when missing (call under the session lock)."""
    row = get_memory(conn, sid)
    if row is not None:
        return row
    values = {
        "session_sid": sid,
        "app_id": app_id,
        "history_expires_at": None,
        "preferences": {},
        "updated_at": now,
    }
    return (
        conn.execute(insert(session_memory).values(**values).returning(*session_memory.c))
        .mappings()
        .one()
    )


def set_memory(conn: Connection, sid: int, values: dict[str, Any]) -> None:
    conn.execute(update(session_memory).where(mem.session_sid == sid).values(**values))


# The hot statements of a chat turn are compiled once (storage/prepared.py); bind names
# differ from column names.
_EXTEND_HISTORY = Prepared(
    update(session_memory)
    .where(
        mem.session_sid == bindparam("p_sid"),
        or_(mem.history_expires_at.is_(None), mem.history_expires_at > bindparam("p_now")),
    )
    .values(
        history_expires_at=bindparam("p_expires", type_=BigInteger),
        updated_at=bindparam("p_now", type_=BigInteger),
    )
)


def extend_history(conn: Connection, sid: int, expires_at: int | None, now: int) -> bool:
    """Move a live history's expiry to ``expires_at``; False when it has none or it expired."""
    values = {"p_sid": sid, "p_now": now, "p_expires": expires_at}
    return _EXTEND_HISTORY.rowcount(conn, values) > 0


def restart_history(
    conn: Connection, sid: int, app_id: str, expires_at: int | None, now: int
) -> None:
    """Start an empty history expiring at ``expires_at``: an expired one's messages go."""
    delete_history(conn, sid)
    row = {
        "session_sid": sid,
        "app_id": app_id,
        "history_expires_at": expires_at,
        "preferences": {},
        "updated_at": now,
    }
    query = _upsert(conn, session_memory).values(**row)
    changed = {"history_expires_at": expires_at, "updated_at": now}
    conn.execute(query.on_conflict_do_update(index_elements=[mem.session_sid], set_=changed))


# -- messages -------------------------------------------------------------------------------

# A message as the Message model names its fields, plus ``seq`` (for cursors) and ``chars``
# (for budgets): rows validate into models as they come.
MESSAGE = (
    m.seq,
    m.id,
    m.role,
    m.content,
    m.meta.label("metadata"),
    m.client_id,
    m.tokens,
    m.chars,
    m.created_at,
)
INSERT_KEYS = (
    "session_sid",
    "id",
    "client_id",
    "role",
    "content",
    "meta",
    "chars",
    "tokens",
    "created_at",
)
_INSERT_MESSAGE = Prepared(insert(messages).returning(m.seq))


def insert_messages(conn: Connection, sid: int, rows: list[dict[str, Any]]) -> None:
    """Insert messages into a session's history, in the given order.

    Each row has ``id``, ``client_id``, ``role``, ``content``, ``metadata``, ``chars``,
    ``tokens``, ``created_at``, and may have ``sealed`` (the content to store when
    encryption at rest is on) and ``meta_json`` (the metadata already encoded: SQLite
    stores that text as it is, so an append encodes metadata once).
    """
    if conn.dialect.name == "sqlite":
        # The single writer's hot path: the driver's cursor with plain tuples.
        dumps = orjson.dumps
        params = [
            (
                sid,
                r["id"],
                r["client_id"],
                r["role"],
                r.get("sealed", r["content"]),
                r.get("meta_json") or dumps(r["metadata"]).decode(),
                r["chars"],
                r["tokens"],
                r["created_at"],
            )
            for r in rows
        ]
        sqlite_insert(conn, "messages", INSERT_KEYS, params)
        return
    values = [
        {
            "session_sid": sid,
            "id": r["id"],
            "client_id": r["client_id"],
            "role": r["role"],
            "content": r.get("sealed", r["content"]),
            "meta": r["metadata"],
            "chars": r["chars"],
            "tokens": r["tokens"],
            "created_at": r["created_at"],
        }
        for r in rows
    ]
    if len(values) == 1:  # one message per chat turn: the compiled statement
        _INSERT_MESSAGE.first(conn, values[0], column_keys=INSERT_KEYS)
    else:
        conn.execute(insert(messages), values)


def by_client_ids(conn: Connection, sid: int, client_ids: Sequence[str]) -> dict[str, RowMapping]:
    if not client_ids:
        return {}
    query = select(*MESSAGE).where(m.session_sid == sid, m.client_id.in_(list(client_ids)))
    return {row["client_id"]: row for row in _opened(list(conn.execute(query).mappings()))}


def last_messages(
    conn: Connection, sid: int, limit: int, before: int | None = None
) -> list[RowMapping]:
    """Up to ``limit`` messages before seq ``before`` (or the newest), newest first."""
    where = [m.session_sid == sid]
    if before is not None:
        where.append(m.seq < before)
    query = select(*MESSAGE).where(*where).order_by(m.seq.desc()).limit(limit)
    return _opened(list(conn.execute(query).mappings()))


# A page holds what a Message shows, plus ``seq`` for its cursor.
_PAGE_COLUMNS = tuple(column for column in MESSAGE if column.key != "chars")


def _live_history(columns: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """``columns`` of the messages of a session (by app and public id) while its history lives."""
    live = and_(
        s.app_id == bindparam("p_app_id"),
        s.id == bindparam("p_session_id"),
        s.deleted_at.is_(None),
        or_(mem.history_expires_at.is_(None), mem.history_expires_at > bindparam("p_now")),
    )
    return (
        select(*columns)
        .join(sessions, s.sid == m.session_sid)
        .join(session_memory, mem.session_sid == m.session_sid)
        .where(live)
    )


def _history_page(backward: bool, limited: bool = True) -> Prepared:
    """A page of a live history by the session's public id, in one compiled statement.

    The hot read of a chat turn (the last N messages) costs one indexed query on the
    driver's cursor, not three through SQLAlchemy's execution machinery.
    """
    query = _live_history(_PAGE_COLUMNS)
    if backward:
        query = query.where(m.seq < bindparam("p_edge")).order_by(m.seq.desc())
    else:
        query = query.where(m.seq > bindparam("p_edge")).order_by(m.seq)
    return Prepared(query.limit(bindparam("p_limit")) if limited else query)


_BACKWARD_PAGE = _history_page(backward=True)
_FORWARD_PAGE = _history_page(backward=False)
_WHOLE_HISTORY = _history_page(backward=False, limited=False)
_NO_EDGE = 2**62


def history_page(
    conn: Connection,
    app_id: str,
    session_id: str,
    now: int,
    limit: int | None,
    backward: bool,
    edge: int | None,
) -> list[Row]:
    """Up to ``limit`` messages (all when None) of the live history of a session, by its id.

    Backward: before seq ``edge`` (or from the newest), newest first. Forward: after
    ``edge`` (or from the oldest), oldest first. Empty when the session does not exist,
    has no history or its history expired: callers tell those apart when it matters.
    """
    default = _NO_EDGE if backward else 0
    if conn.dialect.name == "sqlite":
        args = (app_id, session_id, now, default if edge is None else edge)
        return _opened(_sqlite_page(conn, backward, (*args, -1 if limit is None else limit)))
    if limit is None and not backward:
        query = _WHOLE_HISTORY
    else:
        query = _BACKWARD_PAGE if backward else _FORWARD_PAGE
    params = {
        "p_app_id": app_id,
        "p_session_id": session_id,
        "p_now": now,
        "p_edge": default if edge is None else edge,
        "p_limit": _NO_EDGE if limit is None else limit,
    }
    return _opened(query.all(conn, params))


_SQLITE_PAGE = (
    "SELECT m.seq, m.id, m.role, m.content, m.meta, m.client_id, m.tokens, m.created_at"
    " FROM sessions AS s JOIN session_memory AS mem ON mem.session_sid = s.sid"
    " JOIN messages AS m ON m.session_sid = s.sid"
    " WHERE s.app_id = ? AND s.id = ? AND s.deleted_at IS NULL"
    " AND (mem.history_expires_at IS NULL OR mem.history_expires_at > ?)"
)
_SQLITE_BACKWARD = _SQLITE_PAGE + " AND m.seq < ? ORDER BY m.seq DESC LIMIT ?"
_SQLITE_FORWARD = _SQLITE_PAGE + " AND m.seq > ? ORDER BY m.seq LIMIT ?"


def _sqlite_rows(conn: Connection, sql: str, args: tuple[Any, ...]) -> list[Any]:
    """Run a query on the driver's cursor (its errors wrapped as SQLAlchemy's); every row."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, args)
        return cast(list[Any], cursor.fetchall())
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, args, exc, sqlite3.Error) from exc
    finally:
        cursor.close()


def _sqlite_page(conn: Connection, backward: bool, args: tuple[Any, ...]) -> list[Row]:
    """``history_page`` on SQLite: the driver's cursor and rows built in one comprehension.

    The page read of every chat turn and the whole-history load of an agent spend most
    of their time turning rows into dicts; this costs about a microsecond a row.
    """
    found = _sqlite_rows(conn, _SQLITE_BACKWARD if backward else _SQLITE_FORWARD, args)
    loads = orjson.loads
    return [
        {
            "seq": seq,
            "id": id_,
            "role": role,
            "content": content,
            "metadata": loads(meta),
            "client_id": client_id,
            "tokens": tokens,
            "created_at": created_at,
        }
        for seq, id_, role, content, meta, client_id, tokens, created_at in found
    ]


class MessageRecord(NamedTuple):
    """A stored message as adapters read it: no model, just the fields they turn into items."""

    id: str
    role: str
    content: str
    metadata: dict[str, Any]
    created_at_ms: int


_SQLITE_RECORDS = (
    "SELECT m.id, m.role, m.content, m.meta, m.created_at"
    " FROM sessions AS s JOIN session_memory AS mem ON mem.session_sid = s.sid"
    " JOIN messages AS m ON m.session_sid = s.sid"
    " WHERE s.app_id = ? AND s.id = ? AND s.deleted_at IS NULL"
    " AND (mem.history_expires_at IS NULL OR mem.history_expires_at > ?)"
)
_SQLITE_NEWEST_RECORDS = _SQLITE_RECORDS + " ORDER BY m.seq DESC LIMIT ?"
_SQLITE_ALL_RECORDS = _SQLITE_RECORDS + " ORDER BY m.seq"
_RECORD_COLUMNS = (m.id, m.role, m.content, m.meta, m.created_at)


def _records_statement(newest: bool) -> Prepared:
    query = _live_history(_RECORD_COLUMNS)
    if newest:
        return Prepared(query.order_by(m.seq.desc()).limit(bindparam("p_limit")))
    return Prepared(query.order_by(m.seq))


_NEWEST_RECORDS = _records_statement(newest=True)
_ALL_RECORDS = _records_statement(newest=False)


def history_records(
    conn: Connection, app_id: str, session_id: str, now: int, limit: int | None
) -> list[MessageRecord]:
    """The newest ``limit`` messages (all when None) of a session's live history, oldest first.

    Empty when the session does not exist, has no history or it expired. A whole history
    is what an agent loads on every turn: five columns and one tuple a row, no dicts and
    no models (about a third of the cost of ``history_page``).
    """
    if conn.dialect.name == "sqlite":
        args: tuple[Any, ...] = (app_id, session_id, now)
        sql = _SQLITE_ALL_RECORDS
        if limit is not None:
            sql, args = _SQLITE_NEWEST_RECORDS, (*args, limit)
        loads = orjson.loads
        with collector_paused():  # nothing here yields to the event loop
            # Most messages have no metadata: a new empty dict costs a fifth of parsing "{}".
            records = [
                MessageRecord(id_, role, content, {} if meta == "{}" else loads(meta), created_at)
                for id_, role, content, meta, created_at in _sqlite_rows(conn, sql, args)
            ]
    else:
        params = {"p_app_id": app_id, "p_session_id": session_id, "p_now": now, "p_limit": limit}
        rows = (_ALL_RECORDS if limit is None else _NEWEST_RECORDS).all(conn, params)
        with collector_paused():
            records = [
                MessageRecord(r["id"], r["role"], r["content"], r["meta"], r["created_at"])
                for r in rows
            ]
    if limit is not None:
        records.reverse()
    if crypto.KEYS:
        purpose = "messages.content"
        records = [r._replace(content=crypto.open_text(r.content, purpose)) for r in records]
    return records


def first_messages(
    conn: Connection, sid: int, after: int, limit: int, roles: Sequence[str] | None = None
) -> list[RowMapping]:
    """Up to ``limit`` messages after seq ``after`` (of ``roles`` only, if given), oldest first."""
    where = [m.session_sid == sid, m.seq > after]
    if roles is not None:
        where.append(m.role.in_(list(roles)))
    query = select(messages).where(*where).order_by(m.seq).limit(limit)
    return _opened(list(conn.execute(query).mappings()))


def system_messages(conn: Connection, sid: int) -> list[RowMapping]:
    query = select(*MESSAGE).where(m.session_sid == sid, m.role == "system")
    return _opened(list(conn.execute(query.order_by(m.seq)).mappings()))


def newest_non_system(
    conn: Connection, sid: int, before: int | None, limit: int
) -> list[RowMapping]:
    where = [m.session_sid == sid, m.role != "system"]
    if before is not None:
        where.append(m.seq < before)
    query = select(*MESSAGE).where(*where).order_by(m.seq.desc()).limit(limit)
    return _opened(list(conn.execute(query).mappings()))


def count_by_role(conn: Connection, sid: int) -> dict[str, int]:
    query = select(m.role, func.count()).where(m.session_sid == sid).group_by(m.role)
    return {role: int(n) for role, n in conn.execute(query)}


def user_contents(conn: Connection, sid: int, limit: int) -> list[str]:
    """The newest ``limit`` user messages' contents (for topics)."""
    query = (
        select(m.content)
        .where(m.session_sid == sid, m.role == "user")
        .order_by(m.seq.desc())
        .limit(limit)
    )
    contents = list(conn.execute(query).scalars())
    if crypto.KEYS:
        return [crypto.open_text(text, "messages.content") for text in contents]
    return contents


def delete_message(conn: Connection, seq: int) -> None:
    conn.execute(delete(messages).where(m.seq == seq))


def delete_history(conn: Connection, sid: int) -> int:
    return conn.execute(delete(messages).where(m.session_sid == sid)).rowcount


def user_conversations(
    conn: Connection, app_id: str, user_id: str, now: int, limit: int, after: tuple[int, int] | None
) -> list[RowMapping]:
    """The user's sessions with a live history, newest first, with first message and counts."""
    live = and_(
        mem.session_sid == s.sid,
        or_(mem.history_expires_at.is_(None), mem.history_expires_at > now),
    )
    # The title is the first user message (a system prompt makes a poor title), or the
    # first message when no user has spoken yet.
    first_user = select(func.min(m.seq)).where(m.session_sid == s.sid, m.role == "user")
    first_any = select(func.min(m.seq)).where(m.session_sid == s.sid)
    first_seq = func.coalesce(first_user.scalar_subquery(), first_any.scalar_subquery())
    where = [s.app_id == app_id, s.user_id == user_id, s.deleted_at.is_(None), live]
    if after is not None:
        started, sid = after
        where.append(or_(s.started_at < started, and_(s.started_at == started, s.sid < sid)))
    query = (
        select(sessions, first_seq.label("first_seq"))
        .join(session_memory, mem.session_sid == s.sid)
        .where(*where, first_seq.is_not(None))
        .order_by(s.started_at.desc(), s.sid.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def history_summary(conn: Connection, sid: int) -> tuple[int, int]:
    """(message count, newest created_at) of a history."""
    query = select(func.count(), func.max(m.created_at)).where(m.session_sid == sid)
    count, newest = conn.execute(query).one()
    return int(count), int(newest or 0)


def message_at(conn: Connection, seq: int) -> RowMapping:
    return _opened([conn.execute(select(messages).where(m.seq == seq)).mappings().one()])[0]


# -- cart -----------------------------------------------------------------------------------


def cart(conn: Connection, sid: int) -> list[RowMapping]:
    query = select(cart_items).where(c.session_sid == sid).order_by(c.position)
    return list(conn.execute(query).mappings())


def cart_item(conn: Connection, sid: int, sku: str) -> RowMapping | None:
    query = select(cart_items).where(c.session_sid == sid, c.sku == sku)
    return conn.execute(query).mappings().first()


def insert_cart_item(conn: Connection, row: dict[str, Any]) -> None:
    """Add a line at the end of the cart (call under the session lock)."""
    last = select(func.max(c.position)).where(c.session_sid == row["session_sid"])
    position = (conn.execute(last).scalar_one() or 0) + 1
    conn.execute(insert(cart_items).values(**row, position=position))


def update_cart_item(conn: Connection, sid: int, sku: str, values: dict[str, Any]) -> None:
    conn.execute(update(cart_items).where(c.session_sid == sid, c.sku == sku).values(**values))


def delete_cart_item(conn: Connection, sid: int, sku: str) -> int:
    return conn.execute(delete(cart_items).where(c.session_sid == sid, c.sku == sku)).rowcount


def clear_cart(conn: Connection, sid: int) -> int:
    return conn.execute(delete(cart_items).where(c.session_sid == sid)).rowcount


# -- state ----------------------------------------------------------------------------------


def _state_key(app_id: str, scope: str, owner: str, key: str) -> list[Any]:
    return [st.app_id == app_id, st.scope == scope, st.owner == owner, st.key == key]


def get_state(
    conn: Connection, app_id: str, scope: str, owner: str, key: str, now: int
) -> RowMapping | None:
    alive = or_(st.expires_at.is_(None), st.expires_at > now)
    query = select(state_entries).where(*_state_key(app_id, scope, owner, key), alive)
    return conn.execute(query).mappings().first()


def list_state(conn: Connection, app_id: str, scope: str, owner: str, now: int) -> list[RowMapping]:
    alive = or_(st.expires_at.is_(None), st.expires_at > now)
    query = (
        select(state_entries)
        .where(st.app_id == app_id, st.scope == scope, st.owner == owner, alive)
        .order_by(st.key)
    )
    return list(conn.execute(query).mappings())


def put_state(conn: Connection, row: dict[str, Any]) -> None:
    query = _upsert(conn, state_entries).values(**row)
    changed = {name: query.excluded[name] for name in ("value", "expires_at", "updated_at")}
    conn.execute(
        query.on_conflict_do_update(index_elements=list(state_entries.primary_key), set_=changed)
    )


def delete_state(conn: Connection, app_id: str, scope: str, owner: str, key: str, now: int) -> bool:
    alive = or_(st.expires_at.is_(None), st.expires_at > now)
    query = delete(state_entries).where(*_state_key(app_id, scope, owner, key), alive)
    return conn.execute(query).rowcount > 0


# -- response cache -------------------------------------------------------------------------


def cache_get(
    conn: Connection, app_id: str, scope: str, prompt_hash: str, now: int
) -> RowMapping | None:
    alive = or_(rc.expires_at.is_(None), rc.expires_at > now)
    query = select(response_cache).where(
        rc.app_id == app_id, rc.scope == scope, rc.prompt_hash == prompt_hash, alive
    )
    return conn.execute(query).mappings().first()


def cache_put(conn: Connection, row: dict[str, Any]) -> None:
    query = _upsert(conn, response_cache).values(**row)
    names = ("prompt", "response", "meta", "hits", "created_at", "expires_at")
    changed = {name: query.excluded[name] for name in names}
    conn.execute(
        query.on_conflict_do_update(index_elements=list(response_cache.primary_key), set_=changed)
    )


def cache_hit(conn: Connection, app_id: str, scope: str, prompt_hash: str) -> None:
    conn.execute(
        update(response_cache)
        .where(rc.app_id == app_id, rc.scope == scope, rc.prompt_hash == prompt_hash)
        .values(hits=rc.hits + 1)
    )


def cache_count(conn: Connection, app_id: str, scope: str, hit: bool, sid: int | None) -> None:
    """Add one hit or one miss to the scope's counters."""
    row = {
        "app_id": app_id,
        "scope": scope,
        "session_sid": sid,
        "hits": int(hit),
        "misses": int(not hit),
    }
    query = _upsert(conn, response_cache_stats).values(**row)
    bump = {"hits": rs.hits + int(hit), "misses": rs.misses + int(not hit)}
    conn.execute(query.on_conflict_do_update(index_elements=[rs.app_id, rs.scope], set_=bump))


def cache_stats(conn: Connection, app_id: str, scope: str, now: int) -> tuple[int, int, int]:
    """(hits, misses, live entries) of a scope."""
    counts = conn.execute(
        select(rs.hits, rs.misses).where(rs.app_id == app_id, rs.scope == scope)
    ).first()
    alive = or_(rc.expires_at.is_(None), rc.expires_at > now)
    entries = conn.execute(
        select(func.count()).where(rc.app_id == app_id, rc.scope == scope, alive)
    ).scalar_one()
    hits, misses = (int(counts[0]), int(counts[1])) if counts is not None else (0, 0)
    return hits, misses, int(entries)


def cache_clear(conn: Connection, app_id: str, scope: str) -> int:
    return conn.execute(
        delete(response_cache).where(rc.app_id == app_id, rc.scope == scope)
    ).rowcount


# -- shares ---------------------------------------------------------------------------------


def insert_share(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(shares).values(**row))


def share_by_hash(conn: Connection, token_hash: str) -> RowMapping | None:
    query = select(shares, s.id.label("session_id")).join(sessions, s.sid == sh.session_sid)
    query = query.where(sh.token_hash == token_hash, s.deleted_at.is_(None))
    return conn.execute(query).mappings().first()


def session_shares(conn: Connection, sid: int) -> list[RowMapping]:
    query = select(shares).where(sh.session_sid == sid).order_by(sh.created_at, sh.id)
    return list(conn.execute(query).mappings())


def revoke_share(conn: Connection, sid: int, share_id: str, now: int) -> RowMapping | None:
    query = (
        update(shares)
        .where(sh.session_sid == sid, sh.id == share_id)
        .values(revoked_at=func.coalesce(sh.revoked_at, now))
        .returning(*shares.c)
    )
    return conn.execute(query).mappings().first()


# -- worker ---------------------------------------------------------------------------------


def expire_histories(conn: Connection, now: int, limit: int) -> int:
    """Remove the messages of up to ``limit`` histories past their TTL; return how many."""
    due = select(mem.session_sid).where(mem.history_expires_at <= now).limit(limit)
    sids = list(conn.execute(due).scalars())
    if not sids:
        return 0
    # Take the sessions' row locks, as appends do, so an append racing the worker on
    # PostgreSQL either lands before (and is removed with its expired history, which is
    # right: it extended nothing) or after (and starts a new history).
    conn.execute(select(s.sid).where(s.sid.in_(sids)).with_for_update())
    still_due = list(
        conn.execute(
            select(mem.session_sid).where(mem.session_sid.in_(sids), mem.history_expires_at <= now)
        ).scalars()
    )
    if not still_due:
        return 0
    conn.execute(delete(messages).where(m.session_sid.in_(still_due)))
    conn.execute(
        update(session_memory)
        .where(mem.session_sid.in_(still_due))
        .values(history_expires_at=None, updated_at=now)
    )
    return len(still_due)


def purge_expired_state(conn: Connection, now: int, limit: int) -> int:
    """Remove up to ``limit`` expired state entries and as many expired cached answers."""
    removed = 0
    for table in (state_entries, response_cache):
        keys = list(table.primary_key)
        due = list(conn.execute(select(*keys).where(table.c.expires_at <= now).limit(limit)))
        if due:
            query = delete(table).where(tuple_(*keys).in_([tuple(row) for row in due]))
            removed += conn.execute(query).rowcount
    return removed
