"""Queries for events: store a batch, find what was stored already, read timelines."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from sessionhub.storage.prepared import Prepared, sqlite_insert, sqlite_rows
from sessionhub.storage.schema import EVENT_DEDUPE_BY_ID, events, sessions
from sessionhub.storage.sessions import get_for_update

e = events.c
s = sessions.c
_LIVE = s.deleted_at.is_(None)

# The session columns an accepted event changes, written back in one statement per session.
COUNTER_COLUMNS = (
    "last_activity_at",
    "idle_expires_at",
    "last_event_at",
    "page_views",
    "event_count",
    "action_count",
    "error_count",
    "conversion_count",
    "workflow_starts",
    "workflow_completes",
    "engaged_ms",
    "exit_page",
    "last_action",
)


def sessions_for_update(conn: Connection, app_id: str, ids: Sequence[str]) -> list[Any]:
    """The named sessions, locked in a fixed order (so two writers never deadlock on them)."""
    if not ids:
        return []
    if len(ids) == 1:  # the usual batch: one tracker's session, through the prepared lookup
        row = get_for_update(conn, app_id, ids[0])
        return [row] if row is not None else []
    query = (
        select(sessions)
        .where(s.app_id == app_id, s.id.in_(ids), _LIVE)
        .order_by(s.sid)
        .with_for_update()
    )
    return list(conn.execute(query).mappings())


# An event's key: (time, id), or (None, id) for an event known by its id alone.
EventKey = tuple[int | None, str]
_CHUNK = 200


_PG_EXISTING = text(
    "SELECT e.occurred_at, e.id"
    " FROM unnest(CAST(:times AS bigint[]), CAST(:ids AS varchar[])) AS k(t, i)"
    " JOIN events AS e ON e.app_id = :app_id AND e.occurred_at = k.t AND e.id = k.i"
)


@functools.cache
def _sqlite_existing(count: int) -> str:
    """The SQLite lookup of ``count`` (time, id) keys: built once per count, not per batch."""
    pairs = ",".join(["(?,?)"] * count)
    return (
        f"SELECT e.occurred_at, e.id FROM (VALUES {pairs}) AS k"
        " JOIN events AS e ON e.app_id = ? AND e.occurred_at = k.column1 AND e.id = k.column2"
    )


def existing_keys(
    conn: Connection, app_id: str, timed: Sequence[tuple[int, str]], by_id: Sequence[str]
) -> set[EventKey]:
    """Which of the keys are stored already: ``timed`` as (time, id), ``by_id`` by id alone."""
    found: set[EventKey] = set()
    sqlite = conn.dialect.name == "sqlite"
    for start in range(0, len(timed), _CHUNK):
        chunk = timed[start : start + _CHUNK]
        if sqlite:  # the single writer's hot path: no statement to build
            flat = [value for pair in chunk for value in pair]
            rows: Iterable[Any] = sqlite_rows(conn, _sqlite_existing(len(chunk)), (*flat, app_id))
        else:  # one statement text whatever the count: planned once per connection
            keys = {"times": [t for t, _ in chunk], "ids": [i for _, i in chunk]}
            rows = conn.execute(_PG_EXISTING, {"app_id": app_id, **keys})
        found.update((row[0], row[1]) for row in rows)
    for start in range(0, len(by_id), _CHUNK):
        some = by_id[start : start + _CHUNK]
        query = select(e.id).where(e.app_id == app_id, EVENT_DEDUPE_BY_ID, e.id.in_(some))
        found.update((None, i) for i in conn.execute(query).scalars())
    return found


# An event row as ingestion writes it: these columns in this order, the properties as JSON
# text (sealed when encryption at rest is on).
EVENT_COLUMNS = (
    "app_id",
    "session_sid",
    "id",
    "name",
    "occurred_at",
    "received_at",
    "url",
    "path",
    "title",
    "referrer",
    "properties",
    "since_prev_ms",
    "dedupe_by_id",  # 0 or 1: a bool would take the SQLite driver's adapter path
)
EventRow = tuple[
    str,
    int,
    str,
    str,
    int,
    int,
    str | None,
    str | None,
    str | None,
    str | None,
    str,
    int | None,
    int,
]

# PostgreSQL takes the JSON text as it is (its JSONB parses it), as SQLite stores it.
_PG_INSERT = insert(events).values(
    properties=cast(bindparam("properties_json", type_=Text()), JSONB())
)


def insert_events(conn: Connection, rows: list[EventRow]) -> None:
    """Insert event rows (``EventRow``, in ``EVENT_COLUMNS`` order).

    On SQLite (the single writer's hot path) the rows go to the driver's cursor as they are,
    many per statement; on PostgreSQL through SQLAlchemy, one statement for the batch.
    """
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        sqlite_insert(conn, "events", EVENT_COLUMNS, rows)
    else:
        conn.execute(_PG_INSERT, [_pg_values(row) for row in rows])


def _pg_values(row: EventRow) -> dict[str, Any]:
    values = dict(zip(EVENT_COLUMNS, row, strict=True))
    values["properties_json"] = values.pop("properties")
    values["dedupe_by_id"] = bool(values["dedupe_by_id"])
    return values


_UPDATE_COUNTERS = Prepared(
    update(sessions)
    .where(s.sid == bindparam("b_sid"))
    .values({name: bindparam(f"b_{name}") for name in COUNTER_COLUMNS})
)


def write_counters(conn: Connection, changes: list[dict[str, Any]]) -> None:
    """Write each touched session's new counters (``changes``: sid plus COUNTER_COLUMNS)."""
    for change in changes:
        _UPDATE_COUNTERS.rowcount(conn, {f"b_{k}": v for k, v in change.items()})


def timeline(
    conn: Connection, session_sid: int, limit: int, after: tuple[int, int] | None
) -> list[RowMapping]:
    """A session's events in the order they happened, after the keyset cursor ``after``."""
    where = [e.session_sid == session_sid]
    if after is not None:
        at, eid = after
        where.append(or_(e.occurred_at > at, and_(e.occurred_at == at, e.eid > eid)))
    query = select(events).where(*where).order_by(e.occurred_at, e.eid).limit(limit)
    return list(conn.execute(query).mappings())


def user_events(
    conn: Connection, app_id: str, user_id: str, limit: int, after: tuple[int, int] | None
) -> list[RowMapping]:
    """A user's events across all their sessions, oldest first, with each event's session id."""
    where = [s.app_id == app_id, s.user_id == user_id, _LIVE]
    if after is not None:
        at, eid = after
        where.append(or_(e.occurred_at > at, and_(e.occurred_at == at, e.eid > eid)))
    query = (
        select(events, s.id.label("session_public_id"))
        .join(sessions, s.sid == e.session_sid)
        .where(*where)
        .order_by(e.occurred_at, e.eid)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def count_for_app(conn: Connection, app_id: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(events).where(e.app_id == app_id)
        ).scalar_one()
    )
