"""Queries for export and import: pages of sessions and events in time order, idempotent inserts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, or_, select

from sessionhub.storage.dialect import insert_ignore
from sessionhub.storage.schema import events, sessions

s = sessions.c
e = events.c


def sessions_page(
    conn: Connection, app_id: str, start: int, end: int, after: tuple[int, int] | None, limit: int
) -> list[RowMapping]:
    where = [s.app_id == app_id, s.deleted_at.is_(None), s.started_at >= start, s.started_at < end]
    if after is not None:
        where.append(or_(s.started_at > after[0], and_(s.started_at == after[0], s.sid > after[1])))
    query = select(sessions).where(*where).order_by(s.started_at, s.sid).limit(limit)
    return list(conn.execute(query).mappings())


def events_page(
    conn: Connection, app_id: str, start: int, end: int, after: tuple[int, int] | None, limit: int
) -> list[RowMapping]:
    where = [e.app_id == app_id, e.occurred_at >= start, e.occurred_at < end]
    if after is not None:
        where.append(
            or_(e.occurred_at > after[0], and_(e.occurred_at == after[0], e.eid > after[1]))
        )
    query = (
        select(events, s.id.label("session_public_id"))
        .join(sessions, s.sid == e.session_sid)
        .where(*where)
        .order_by(e.occurred_at, e.eid)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def count_sessions(conn: Connection, app_id: str, start: int, end: int) -> int:
    query = select(func.count()).where(
        s.app_id == app_id, s.deleted_at.is_(None), s.started_at >= start, s.started_at < end
    )
    return int(conn.execute(query).scalar_one())


def count_events(conn: Connection, app_id: str, start: int, end: int) -> int:
    query = select(func.count()).where(
        e.app_id == app_id, e.occurred_at >= start, e.occurred_at < end
    )
    return int(conn.execute(query).scalar_one())


def insert_sessions(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert the sessions not there yet; return how many were new."""
    added = 0
    for row in rows:
        result = conn.execute(insert_ignore(conn, sessions).values(**row).returning(s.sid))
        added += result.first() is not None
    return added


def session_sids(conn: Connection, app_id: str, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    query = select(s.id, s.sid).where(s.app_id == app_id, s.id.in_(ids), s.deleted_at.is_(None))
    return {row.id: row.sid for row in conn.execute(query)}


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert the events not there yet; return how many were new."""
    added = 0
    for row in rows:
        result = conn.execute(insert_ignore(conn, events).values(**row).returning(e.eid))
        added += result.first() is not None
    return added
