"""Queries behind the analytics shortcuts: who is here now, app-wide stats, bounced sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, false, func, or_, select, tuple_

from sessionhub.storage.analytics.sql import (
    DURATION,
    Scope,
    bounced,
    register_regexp,
    s,
    scope_where,
    visitor_key,
)
from sessionhub.storage.schema import sessions


def _running(now: int) -> Any:
    return and_(
        s.status == "active",
        or_(s.idle_expires_at.is_(None), s.idle_expires_at > now),
        or_(s.expires_at.is_(None), s.expires_at > now),
    )


def active_now(
    conn: Connection, app_id: str, now: int, since: int, top: int
) -> tuple[tuple[int, int, int], list[tuple[str | None, int]]]:
    """(sessions, visitors, users) running with activity since ``since``, and their current
    pages (the latest page view of each) with how many sessions are on each."""
    where = [
        s.app_id == app_id,
        s.deleted_at.is_(None),
        s.is_bot == false(),
        _running(now),
        s.last_activity_at >= since,
    ]
    counts = conn.execute(
        select(func.count(), func.count(visitor_key().distinct()), func.count(s.user_id.distinct()))
        .select_from(sessions)
        .where(*where)
    ).one()
    pages = conn.execute(
        select(s.exit_page, func.count().label("n"))
        .where(*where)
        .group_by(s.exit_page)
        .order_by(func.count().desc(), s.exit_page)
        .limit(top)
    ).all()
    return (int(counts[0]), int(counts[1]), int(counts[2])), [(p[0], int(p[1])) for p in pages]


def app_stats(conn: Connection, app_id: str, now: int) -> list[tuple[str, str | None, int, int]]:
    """(state, end reason, sessions, summed duration ms) of every non-bot session, as each
    stands at ``now``: an active session past a limit reads as ended by it."""
    absolute_first = and_(
        s.expires_at.is_not(None),
        s.expires_at <= now,
        or_(
            s.idle_expires_at.is_(None), s.idle_expires_at > now, s.expires_at <= s.idle_expires_at
        ),
    )
    state = case((_running(now), "active"), else_="ended").label("state")
    reason = case(
        (s.status != "active", s.end_reason),
        (_running(now), None),
        (absolute_first, "expired"),
        else_="timeout",
    ).label("reason")
    query = (
        select(state, reason, func.count(), func.sum(DURATION))
        .where(s.app_id == app_id, s.deleted_at.is_(None), s.is_bot == false())
        .group_by(state, reason)
    )
    return [(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in conn.execute(query)]


def bounce_sessions(
    conn: Connection, scope: Scope, limit: int, before: tuple[int, int] | None
) -> list[Any]:
    """Bounced sessions of ``scope``, newest first, after the keyset position ``before``."""
    register_regexp(conn)
    query = select(
        s.sid,
        s.id,
        s.started_at,
        s.entry_page,
        DURATION.label("duration_ms"),
        s.page_views,
        s.source,
        s.device_type,
        s.country,
    ).where(*scope_where(scope), bounced(scope))
    if before is not None:
        query = query.where(tuple_(s.started_at, s.sid) < tuple_(*before))
    query = query.order_by(s.started_at.desc(), s.sid.desc()).limit(limit)
    return list(conn.execute(query).mappings())
