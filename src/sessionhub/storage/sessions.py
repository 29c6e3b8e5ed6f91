"""Queries for sessions and device links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from sessionhub.storage.prepared import Prepared, Row, single_statement
from sessionhub.storage.schema import SESSION_CHILD_TABLES, device_links, sessions

s = sessions.c
_LIVE = s.deleted_at.is_(None)


def running(now: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Sessions that are active at ``now``: not ended, not idle, not past their lifetime."""
    return and_(
        s.status == "active",
        or_(s.idle_expires_at.is_(None), s.idle_expires_at > now),
        or_(s.expires_at.is_(None), s.expires_at > now),
    )


# The hot statements (validate, heartbeat, create, every lookup by id) are compiled once:
# see storage/prepared.py. Bind names must differ from column names.
_by_id = (s.app_id == bindparam("p_app_id"), s.id == bindparam("p_session_id"), _LIVE)
_GET = Prepared(select(sessions).where(*_by_id))
_GET_FOR_UPDATE = Prepared(select(sessions).where(*_by_id).with_for_update())
_INSERT = {
    "sqlite": Prepared(sqlite.insert(sessions).on_conflict_do_nothing().returning(*sessions.c)),
    "postgresql": Prepared(
        postgresql.insert(sessions).on_conflict_do_nothing().returning(*sessions.c)
    ),
}
_now = bindparam("p_now", type_=BigInteger)
_since = _now - s.last_activity_at
_TOUCH_UPDATE = (
    update(sessions)
    .where(*_by_id, running(_now))
    .values(
        last_activity_at=_now,
        idle_expires_at=s.idle_timeout_ms + _now,
        engaged_ms=s.engaged_ms
        + case(
            (and_(_since >= 0, _since <= bindparam("p_gap", type_=BigInteger)), _since), else_=0
        ),
    )
)
_TOUCH = Prepared(_TOUCH_UPDATE.returning(*sessions.c))
# Appending a message needs only the sid back: a row of 45 columns costs more than the update.
_TOUCH_SID = Prepared(_TOUCH_UPDATE.returning(s.sid))


@single_statement
def get(conn: Connection, app_id: str, session_id: str) -> Row | None:
    return _GET.first(conn, {"p_app_id": app_id, "p_session_id": session_id})


def get_for_update(conn: Connection, app_id: str, session_id: str) -> Row | None:
    return _GET_FOR_UPDATE.first(conn, {"p_app_id": app_id, "p_session_id": session_id})


def insert_session(conn: Connection, row: dict[str, Any]) -> Row | None:
    """Insert a session; None when its (app, id) is taken already."""
    return _INSERT[conn.dialect.name].first(conn, row, column_keys=row)


def touch(
    conn: Connection, app_id: str, session_id: str, now: int, engagement_gap_ms: int
) -> Row | None:
    """Record activity on a running session and return it; None when it is not running.

    The time since the previous activity counts as engaged when it is at most
    ``engagement_gap_ms``.
    """
    return _TOUCH.first(
        conn,
        {"p_app_id": app_id, "p_session_id": session_id, "p_now": now, "p_gap": engagement_gap_ms},
    )


def touch_running(
    conn: Connection, app_id: str, session_id: str, now: int, engagement_gap_ms: int
) -> int | None:
    """``touch``, returning only the session's sid; None when it is not running."""
    row = _TOUCH_SID.first(
        conn,
        {"p_app_id": app_id, "p_session_id": session_id, "p_now": now, "p_gap": engagement_gap_ms},
    )
    return None if row is None else int(row["sid"])


def set_fields(conn: Connection, sid: int, values: dict[str, Any]) -> Row:
    query = update(sessions).where(s.sid == sid).values(**values).returning(*sessions.c)
    return dict(conn.execute(query).mappings().one())


def end(
    conn: Connection, sid: int, now: int, reason: str, extra: dict[str, Any] | None = None
) -> Row:
    values = {"status": "ended", "end_reason": reason, "ended_at": now, **(extra or {})}
    return set_fields(conn, sid, values)


def user_running(conn: Connection, app_id: str, user_id: str, now: int) -> list[RowMapping]:
    query = (
        select(s.sid, s.started_at)
        .where(s.app_id == app_id, s.user_id == user_id, _LIVE, running(now))
        .order_by(s.started_at, s.sid)
    )
    return list(conn.execute(query).mappings())


def end_many(conn: Connection, sids: Sequence[int], now: int, reason: str) -> int:
    if not sids:
        return 0
    query = (
        update(sessions)
        .where(s.sid.in_(sids), running(now))
        .values(status="ended", end_reason=reason, ended_at=now)
    )
    return conn.execute(query).rowcount


def end_user(conn: Connection, app_id: str, user_id: str, now: int, reason: str) -> int:
    query = (
        update(sessions)
        .where(s.app_id == app_id, s.user_id == user_id, _LIVE, running(now))
        .values(status="ended", end_reason=reason, ended_at=now)
    )
    return conn.execute(query).rowcount


def mark_deleted(conn: Connection, sid: int, now: int) -> None:
    # The public id is freed at once (a tombstone no caller can choose takes its place),
    # so the id may be used again; the purge job removes the row and its children.
    conn.execute(update(sessions).where(s.sid == sid).values(deleted_at=now, id=f"~deleted~{sid}"))


def _filters(app_id: str, now: int, f: dict[str, Any]) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [s.app_id == app_id, _LIVE]
    if f.get("status") == "active":
        where.append(running(now))
    elif f.get("status") == "ended":
        where.append(not_(running(now)))
    for name in ("kind", "user_id", "device_id", "entry_page", "device_type"):
        if f.get(name) is not None:
            where.append(s[name] == f[name])
    if f.get("started_from") is not None:
        where.append(s.started_at >= f["started_from"])
    if f.get("started_to") is not None:
        where.append(s.started_at < f["started_to"])
    return where


def search(
    conn: Connection,
    app_id: str,
    now: int,
    filters: dict[str, Any],
    limit: int,
    after: tuple[int, int] | None,
) -> list[RowMapping]:
    """Sessions matching ``filters``, newest first, from after the keyset cursor ``after``."""
    where = _filters(app_id, now, filters)
    if after is not None:
        started, sid = after
        where.append(or_(s.started_at < started, and_(s.started_at == started, s.sid < sid)))
    query = select(sessions).where(*where).order_by(s.started_at.desc(), s.sid.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def count(conn: Connection, app_id: str, now: int, filters: dict[str, Any]) -> int:
    query = select(func.count()).select_from(sessions).where(*_filters(app_id, now, filters))
    return int(conn.execute(query).scalar_one())


def latest_running(
    conn: Connection,
    app_id: str,
    now: int,
    *,
    device_id: str | None = None,
    user_id: str | None = None,
    for_update: bool = False,
) -> RowMapping | None:
    """The most recently active running session of a device (else of a user), or None."""
    if device_id is not None:
        whose = s.device_id == device_id
    elif user_id is not None:
        whose = s.user_id == user_id
    else:
        return None
    query = (
        select(sessions)
        .where(s.app_id == app_id, whose, _LIVE, running(now))
        .order_by(s.last_activity_at.desc(), s.sid.desc())
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


# -- devices ------------------------------------------------------------------------------


_LINKED_USER = Prepared(
    select(device_links.c.user_id).where(
        device_links.c.app_id == bindparam("p_app_id"),
        device_links.c.device_id == bindparam("p_device_id"),
    )
)


def linked_user(conn: Connection, app_id: str, device_id: str) -> str | None:
    user_id: str | None = _LINKED_USER.scalar(conn, {"p_app_id": app_id, "p_device_id": device_id})
    return user_id


def link_device(conn: Connection, app_id: str, device_id: str, user_id: str, now: int) -> None:
    """Link a device to a user (a later identify of the device moves the link)."""
    conn.execute(
        delete(device_links).where(
            device_links.c.app_id == app_id, device_links.c.device_id == device_id
        )
    )
    conn.execute(
        insert(device_links).values(
            app_id=app_id, device_id=device_id, user_id=user_id, linked_at=now
        )
    )


def claim_device_sessions(conn: Connection, app_id: str, device_id: str, user_id: str) -> int:
    """Give the device's anonymous sessions to the user: one history across devices."""
    query = (
        update(sessions)
        .where(s.app_id == app_id, s.device_id == device_id, s.user_id.is_(None), _LIVE)
        .values(user_id=user_id)
    )
    return conn.execute(query).rowcount


def user_devices(conn: Connection, app_id: str, user_id: str) -> list[RowMapping]:
    query = (
        select(device_links)
        .where(device_links.c.app_id == app_id, device_links.c.user_id == user_id)
        .order_by(device_links.c.linked_at)
    )
    return list(conn.execute(query).mappings())


# -- worker -------------------------------------------------------------------------------


def expire_due(conn: Connection, now: int, limit: int) -> tuple[int, int]:
    """End the sessions past their idle or absolute limit among up to ``limit`` due for a look.

    A session is due for a look when its absolute limit or its ``idle_check_at`` has come.
    Touches move the idle limit but not ``idle_check_at``, so a session looked at still
    running is rescheduled to its idle limit of the moment. Returns (looked at, ended).
    """
    sids = list(
        conn.execute(
            select(s.sid)
            .where(s.status == "active", or_(s.idle_check_at <= now, s.expires_at <= now))
            .limit(limit)
        ).scalars()
    )
    if not sids:
        return 0, 0
    due = or_(s.idle_expires_at <= now, s.expires_at <= now)
    absolute_first = and_(
        s.expires_at.is_not(None),
        or_(s.idle_expires_at.is_(None), s.expires_at <= s.idle_expires_at),
    )
    ended = conn.execute(
        update(sessions)
        .where(s.sid.in_(sids), s.status == "active", due)
        .values(
            status="ended",
            end_reason=case((absolute_first, "expired"), else_="timeout"),
            ended_at=case((absolute_first, s.expires_at), else_=s.idle_expires_at),
        )
    ).rowcount
    conn.execute(
        update(sessions)
        .where(s.sid.in_(sids), s.status == "active")
        .values(idle_check_at=s.idle_expires_at)
    )
    return len(sids), ended


def purge_deleted(conn: Connection, limit: int) -> int:
    """Remove up to ``limit`` deleted sessions and every row that belongs to them."""
    sids = list(conn.execute(select(s.sid).where(s.deleted_at.is_not(None)).limit(limit)).scalars())
    if not sids:
        return 0
    for table in SESSION_CHILD_TABLES:
        conn.execute(delete(table).where(table.c.session_sid.in_(sids)))
    return conn.execute(delete(sessions).where(s.sid.in_(sids))).rowcount


def count_running(conn: Connection, now: int) -> int:
    query = select(func.count()).select_from(sessions).where(_LIVE, running(now))
    return int(conn.execute(query).scalar_one())
