"""Queries of bulk session operations: count, end, patch and delete every match of a filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, String, cast, literal, select, update

from sessionhub.storage.schema import sessions
from sessionhub.storage.sessions import _filters, running

s = sessions.c
_CHUNK = 5000  # ids per IN list: well under both drivers' bound-parameter limits


def matching_meta(
    conn: Connection, app_id: str, now: int, filters: dict[str, Any]
) -> list[tuple[int, Any]]:
    """(sid, metadata) of every matching session, locked until the write commits."""
    query = select(s.sid, s.meta).where(*_filters(app_id, now, filters)).with_for_update()
    return [(int(row.sid), row.meta) for row in conn.execute(query)]


def set_meta(conn: Connection, sid: int, meta: Any) -> None:
    conn.execute(update(sessions).where(s.sid == sid).values(meta=meta))


def end_running_among(conn: Connection, sids: Sequence[int], now: int) -> list[int]:
    """End the running sessions among ``sids`` with reason ``revoked``; the sids ended."""
    ended: list[int] = []
    for start in range(0, len(sids), _CHUNK):
        query = (
            update(sessions)
            .where(s.sid.in_(sids[start : start + _CHUNK]), running(now))
            .values(status="ended", end_reason="revoked", ended_at=now)
            .returning(s.sid)
        )
        ended.extend(int(sid) for sid in conn.execute(query).scalars())
    return ended


def delete_matching(conn: Connection, app_id: str, now: int, filters: dict[str, Any]) -> int:
    """Mark every match deleted (their ids freed at once, as one delete does); the purge
    job removes the rows and what belonged to them."""
    query = (
        update(sessions)
        .where(*_filters(app_id, now, filters))
        .values(deleted_at=now, id=literal("~deleted~") + cast(s.sid, String))
    )
    return conn.execute(query).rowcount
