"""Queries behind the reports: funnel and path events, retention cohorts, workflows,
journeys and the per-user session summaries that patterns are made from."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from sessionhub.models.analytics import FunnelStep
from sessionhub.storage.analytics.sql import (
    DURATION,
    Scope,
    e,
    event_tests,
    fetch,
    register_regexp,
    s,
    scope_where,
    session_from,
    session_has,
    text_test,
    time_bucket,
)
from sessionhub.storage.schema import events, sessions, user_patterns

T = TypeVar("T")


def _running(now: int) -> ColumnElement[bool]:
    return and_(
        s.status == "active",
        or_(s.idle_expires_at.is_(None), s.idle_expires_at > now),
        or_(s.expires_at.is_(None), s.expires_at > now),
    )


def entity(by: str) -> ColumnElement[Any]:
    """Who a funnel follows: the session, or the user (else the device, else the session)."""
    text = String()
    if by == "session":
        return s.sid
    return case(
        (s.user_id.is_not(None), literal("u:", text) + s.user_id),
        (s.device_id.is_not(None), literal("d:", text) + s.device_id),
        else_=literal("s:", text) + cast(s.sid, text),
    )


def step_test(step: FunnelStep, dialect: str) -> ColumnElement[bool]:
    """Whether an event meets a step (NULL counts as no: a step test is never negated)."""
    if step.page is not None and step.op == "is":
        head = and_(e.name == "page_view", e.path == step.page)
    elif step.page is not None:
        head = and_(e.name == "page_view", text_test(e.path, step.op, step.page, dialect))
    else:
        head = e.name == step.event
    return and_(head, *event_tests(step.where, dialect))


def in_session_order(scope: Scope) -> list[Any]:
    """An ORDER BY that keeps each session's rows together and is the order of the
    analytics index: SQLite walks the sessions of a range in it and sorts nothing (but
    each session's few rows), PostgreSQL sorts either way."""
    if scope.dialect != "sqlite":
        return [s.sid]
    return [s.started_at, s.kind, s.is_bot, s.deleted_at, s.device_id, s.user_id, s.sid]


def funnel_events(
    conn: Connection,
    scope: Scope,
    steps: Sequence[FunnelStep],
    by: str,
    consume: Callable[[Iterable[Sequence[Any]]], T],
) -> T:
    """``consume`` (entity, time, mask of the steps the event meets) of each event of the
    sessions in scope that meets any step: each entity's rows together, in time order (then
    event id).

    Driven by the sessions in scope (a range of the analytics index), each followed into
    its events by the session index, which holds the name and path of each event."""
    register_regexp(conn)
    tests = [step_test(step, scope.dialect) for step in steps]
    mask = sum((case((test, 1 << i), else_=0) for i, test in enumerate(tests)), literal(0))
    who = entity(by)
    order = in_session_order(scope) if by == "session" else [who]
    query = (
        select(who, e.occurred_at, mask)
        .select_from(session_from(scope, ()).join(events, e.session_sid == s.sid))
        .where(or_(*tests), *scope_where(scope))
        .order_by(*order, e.occurred_at, e.eid)
    )
    return consume(fetch(conn, query))


def path_events(
    conn: Connection,
    scope: Scope,
    page: str | None,
    event: str | None,
    pages: bool,
    direction: str,
    consume: Callable[[Iterable[Sequence[Any]]], T],
) -> T:
    """``consume`` (session, event name, path, is the anchor) of the steps of the sessions in
    scope that have the anchor (a page view of ``page``, or an ``event``): page views
    (``pages``) or every event, plus anchor events; each session's rows together, in time
    order (then event id). On SQLite only the rows from (``next``) or up to (``previous``)
    the time of the session's first anchor are read: the index seeks there."""
    register_regexp(conn)

    def anchor_of(ev: Any) -> ColumnElement[bool]:
        if page is not None:
            return and_(ev.name == "page_view", ev.path == page)
        return ev.name == event  # type: ignore[no-any-return]

    anchor = anchor_of(e)
    kept = or_(e.name == "page_view", anchor) if pages else true()
    if scope.dialect == "sqlite":
        # Computed once per session, as where the index seek starts (or ends). NULL (no
        # anchor) meets neither bound: the session is left out.
        first = events.alias("first_anchor").c
        anchored_at = (
            select(func.min(first.occurred_at))
            .where(first.session_sid == s.sid, anchor_of(first))
            .scalar_subquery()
        )
        side = e.occurred_at >= anchored_at if direction == "next" else e.occurred_at <= anchored_at
    else:  # PostgreSQL would run that subquery per event: a semi-join instead
        side = session_has(anchor_of)
    query = (
        select(s.sid, e.name, e.path, case((anchor, 1), else_=0))
        .select_from(session_from(scope, ()).join(events, e.session_sid == s.sid))
        .where(kept, side, *scope_where(scope))
        .order_by(*in_session_order(scope), e.occurred_at, e.eid)
    )
    return consume(fetch(conn, query))


def retention(
    conn: Connection, scope: Scope, by: str, granularity: str, lo: int, hi: int
) -> list[tuple[int, int, int]]:
    """(cohort bucket, bucket of a later session, distinct returning entities): cohorts of
    entities first seen in [lo, hi), by the bucket of their first session.

    One pass over the entities' sessions, grouped by (entity, bucket) in the database; each
    entity's groups then give its first session and the buckets it came back in."""
    who = s.user_id if by == "users" else s.device_id
    bucket = time_bucket(scope, granularity)
    query = (
        select(who, bucket, func.min(s.started_at))
        .where(
            s.app_id == scope.app_id,
            s.deleted_at.is_(None),
            who.is_not(None),
            # Always true; a range of start times makes SQLite read the covering analytics
            # index rather than look up each session from the entity's index.
            s.started_at > -(2**62),
            s.started_at < 2**62,
            *([s.kind.in_(scope.kinds)] if scope.kinds is not None else []),
            *([] if scope.include_bots else [s.is_bot == false()]),
        )
        .group_by(who, bucket)
        .order_by(who, bucket)
    )
    counts: dict[tuple[int, int], int] = {}
    for _, group in groupby(fetch(conn, query), key=itemgetter(0)):
        buckets = [(int(row[2]), int(row[1])) for row in group]
        first, cohort = min(buckets)
        if lo <= first < hi:
            for _, later in buckets:
                counts[(cohort, later)] = counts.get((cohort, later), 0) + 1
    return [(cohort, later, n) for (cohort, later), n in sorted(counts.items())]


def workflow_events(
    conn: Connection, scope: Scope | None, app_id: str, session_sid: int | None, now: int
) -> list[dict[str, Any]]:
    """Workflow starts and completions (with their session) in order per session."""
    register_regexp(conn)
    query = (
        select(
            e.session_sid,
            e.name,
            e.occurred_at,
            e.properties,
            s.id.label("session_id"),
            s.user_id,
            _running(now).label("running"),
        )
        .select_from(events.join(sessions, s.sid == e.session_sid))
        .where(e.app_id == app_id, e.name.in_(("workflow_start", "workflow_complete")))
        .order_by(e.session_sid, e.occurred_at, e.eid)
    )
    if session_sid is not None:
        query = query.where(e.session_sid == session_sid)
    if scope is not None:
        query = query.where(*scope_where(scope))
    return [dict(row) for row in conn.execute(query).mappings()]


def session_sid(conn: Connection, app_id: str, session_id: str) -> int | None:
    query = select(s.sid).where(s.app_id == app_id, s.id == session_id, s.deleted_at.is_(None))
    value = conn.execute(query).scalar()
    return int(value) if value is not None else None


def journey(
    conn: Connection,
    app_id: str,
    user_id: str | None,
    session_id: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A user's (or one session's) sessions, oldest first, and up to ``limit`` events."""
    where = [s.app_id == app_id, s.deleted_at.is_(None)]
    where.append(s.user_id == user_id if user_id is not None else s.id == session_id)
    found = [
        dict(row)
        for row in conn.execute(
            select(
                s.sid,
                s.id,
                s.kind,
                s.user_id,
                s.started_at,
                DURATION.label("duration_ms"),
                s.entry_page,
            )
            .where(*where)
            .order_by(s.started_at, s.sid)
        ).mappings()
    ]
    if not found:
        return [], []
    steps = [
        dict(row)
        for row in conn.execute(
            select(e.session_sid, e.name, e.path, e.occurred_at, e.since_prev_ms)
            .where(e.session_sid.in_([row["sid"] for row in found]))
            .order_by(e.occurred_at, e.eid)
            .limit(limit + 1)
        ).mappings()
    ]
    return found, steps


# -- user patterns -------------------------------------------------------------------------

_SESSION_FIELDS = (
    s.user_id,
    s.sid,
    s.started_at,
    DURATION.label("duration_ms"),
    s.engaged_ms,
    s.page_views,
    s.action_count,
    s.error_count,
    s.conversion_count,
    s.workflow_starts,
    s.workflow_completes,
)


def recent_sessions(
    conn: Connection, app_id: str, user_ids: Sequence[str], recent: int
) -> list[dict[str, Any]]:
    """The latest ``recent`` non-bot sessions of each user, newest first, with the number of
    distinct pages each viewed."""
    ranked = (
        select(
            *_SESSION_FIELDS,
            func.row_number()
            .over(partition_by=s.user_id, order_by=(s.started_at.desc(), s.sid.desc()))
            .label("rn"),
        )
        .where(
            s.app_id == app_id,
            s.deleted_at.is_(None),
            s.is_bot == false(),
            s.user_id.in_(list(user_ids)),
        )
        .subquery("ranked")
    )
    rows = [
        dict(row)
        for row in conn.execute(
            select(ranked).where(ranked.c.rn <= recent).order_by(ranked.c.user_id, ranked.c.rn)
        ).mappings()
    ]
    if not rows:
        return rows
    sids = [row["sid"] for row in rows]
    distinct: dict[int, int] = {}
    for start in range(0, len(sids), 1000):
        chunk = sids[start : start + 1000]
        query = (
            select(e.session_sid, func.count(e.path.distinct()))
            .where(e.session_sid.in_(chunk), e.name == "page_view")
            .group_by(e.session_sid)
        )
        distinct.update({int(r[0]): int(r[1]) for r in conn.execute(query)})
    for row in rows:
        row["distinct_pages"] = distinct.get(row["sid"], 0)
    return rows


def first_seen(conn: Connection, app_id: str, user_ids: Sequence[str]) -> dict[str, int]:
    query = (
        select(s.user_id, func.min(s.started_at))
        .where(s.app_id == app_id, s.deleted_at.is_(None), s.user_id.in_(list(user_ids)))
        .group_by(s.user_id)
    )
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def active_users(
    conn: Connection, app_id: str, since: int | None, after: str, limit: int
) -> list[str]:
    """Users with activity at or after ``since`` (every user when None), by id after ``after``."""
    where = [s.app_id == app_id, s.deleted_at.is_(None), s.user_id.is_not(None), s.user_id > after]
    if since is not None:
        where.append(s.last_activity_at >= since)
    query = select(s.user_id).where(*where).group_by(s.user_id).order_by(s.user_id).limit(limit)
    return list(conn.execute(query).scalars())


def save_patterns(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert or replace users' patterns."""
    if not rows:
        return
    table = user_patterns
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table)
        conn.execute(
            pg.on_conflict_do_update(
                index_elements=[table.c.app_id, table.c.user_id],
                set_={
                    name: pg.excluded[name] for name in rows[0] if name not in ("app_id", "user_id")
                },
            ),
            rows,
        )
    else:
        lite = sqlite.insert(table)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=[table.c.app_id, table.c.user_id],
                set_={
                    name: lite.excluded[name]
                    for name in rows[0]
                    if name not in ("app_id", "user_id")
                },
            ),
            rows,
        )


def pattern_counts(conn: Connection, app_id: str) -> list[tuple[str, int]]:
    up = user_patterns.c
    query = (
        select(up.pattern, func.count())
        .where(up.app_id == app_id)
        .group_by(up.pattern)
        .order_by(func.count().desc(), up.pattern)
    )
    return [(row[0], int(row[1])) for row in conn.execute(query)]


def session_counters(conn: Connection, app_id: str, session_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(*_SESSION_FIELDS, s.id).where(
            s.app_id == app_id, s.id == session_id, s.deleted_at.is_(None)
        )
    ).first()
    return dict(row._mapping) if row is not None else None
