"""Queries for events: store a batch, find what was stored already, read timelines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, func, insert, or_, select, update

from sessionhub.storage.prepared import Prepared, sqlite_insert
from sessionhub.storage.schema import events, sessions
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


_EVENT_EXISTS = Prepared(
    select(e.id).where(e.app_id == bindparam("p_app_id"), e.id == bindparam("p_event_id"))
)


def existing_ids(conn: Connection, app_id: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` are stored already (a few looked up one by one, more in one query)."""
    wanted = list(ids)
    if len(wanted) <= 4:
        return {
            i for i in wanted if _EVENT_EXISTS.first(conn, {"p_app_id": app_id, "p_event_id": i})
        }
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        if conn.dialect.name == "sqlite":  # the single writer's hot path: no statement to build
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id FROM events WHERE app_id = ? AND id IN ({marks})"
            found.update(row[0] for row in conn.exec_driver_sql(sql, (app_id, *chunk)))
        else:
            query = select(e.id).where(e.app_id == app_id, e.id.in_(chunk))
            found.update(conn.execute(query).scalars())
    return found


_SQLITE_COLUMNS = (
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
)


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert event rows; each carries ``properties`` and the same as JSON in ``properties_json``.

    On SQLite (the single writer's hot path) the driver's cursor takes plain tuples with the
    JSON already encoded, many rows per statement; elsewhere SQLAlchemy binds the rows.
    """
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        params = [
            (
                r["app_id"],
                r["session_sid"],
                r["id"],
                r["name"],
                r["occurred_at"],
                r["received_at"],
                r["url"],
                r["path"],
                r["title"],
                r["referrer"],
                r["properties_json"],
                r["since_prev_ms"],
            )
            for r in rows
        ]
        sqlite_insert(conn, "events", _SQLITE_COLUMNS, params)
    else:
        conn.execute(
            insert(events), [{k: v for k, v in r.items() if k != "properties_json"} for r in rows]
        )


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
