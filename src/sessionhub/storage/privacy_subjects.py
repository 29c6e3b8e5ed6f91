"""Queries for data subjects (find, export, erase) and for retention.

A subject is a user id or a device id of an app. Its sessions are found once (``resolve``);
the rows that hang off them are read and deleted by session row id (``sid``). Erasure runs
in two steps: one transaction makes the subject disappear (its sessions are tombstoned,
its links, consent, user state and visitor keys removed), then the sessions' rows are
deleted in bounded chunks, so the writer is never held for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    String,
    Table,
    Text,
    and_,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)

from sessionhub.storage.schema import (
    SESSION_CHILD_TABLES,
    SESSION_ENDED,
    analytics_keys,
    device_links,
    events,
    messages,
    sessions,
    state_entries,
    user_patterns,
)
from sessionhub.storage.schema_privacy import consent_log, consent_records

s = sessions.c
e = events.c
m = messages.c
dl = device_links.c
_LIVE = s.deleted_at.is_(None)
CHUNK = 500  # ids per IN (...) list


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)] or [[]]


def resolve(
    conn: Connection, app_id: str, user_id: str | None, device_id: str | None
) -> dict[str, Any]:
    """The subject's live sessions (sid, id, started_at, last activity), devices and users."""
    if user_id is not None:
        devices = sorted(
            conn.execute(
                select(dl.device_id).where(dl.app_id == app_id, dl.user_id == user_id)
            ).scalars()
        )
        whose = s.user_id == user_id
        if devices:
            # The linked devices' anonymous sessions are the user's too (identify claims them).
            whose = or_(whose, and_(s.device_id.in_(devices), s.user_id.is_(None)))
        users = [user_id]
    else:
        devices = [device_id] if device_id is not None else []
        whose = s.device_id == device_id
        users = []
    query = (
        select(s.sid, s.id, s.started_at, s.last_activity_at, s.user_id, s.device_id)
        .where(s.app_id == app_id, _LIVE, whose)
        .order_by(s.started_at, s.sid)
    )
    rows = [dict(row) for row in conn.execute(query).mappings()]
    if user_id is not None:
        # The devices the user's sessions came from are theirs too (their consent, their
        # visitor keys), linked by identify or not.
        seen = select(s.device_id).where(
            s.app_id == app_id, _LIVE, s.user_id == user_id, s.device_id.is_not(None)
        )
        devices = sorted(set(devices) | set(conn.execute(seen.distinct()).scalars()))
    if user_id is None and device_id is not None:
        linked = conn.execute(
            select(dl.user_id).where(dl.app_id == app_id, dl.device_id == device_id)
        ).scalar()
        users = sorted(
            {r["user_id"] for r in rows if r["user_id"]} | ({linked} if linked else set())
        )
    return {"sessions": rows, "devices": devices, "users": users}


def session_rows(conn: Connection, sids: Sequence[int]) -> list[RowMapping]:
    found: list[RowMapping] = []
    for chunk in _chunks(sids):
        query = select(sessions).where(s.sid.in_(chunk)).order_by(s.started_at, s.sid)
        found.extend(conn.execute(query).mappings())
    return found


def session_events(
    conn: Connection, sid: int, limit: int, after: tuple[int, int] | None
) -> list[RowMapping]:
    """One session's events in order, after ``after`` (occurred_at, eid): the index's order."""
    where = [e.session_sid == sid]
    if after is not None:
        at, eid = after
        where.append(or_(e.occurred_at > at, and_(e.occurred_at == at, e.eid > eid)))
    query = (
        select(
            e.eid,
            e.id,
            e.name,
            e.occurred_at,
            e.received_at,
            e.url,
            e.path,
            e.title,
            e.referrer,
            # As stored (JSON text, or a sealed string): the export embeds it as it is.
            cast(e.properties, Text).label("properties"),
        )
        .where(*where)
        .order_by(e.occurred_at, e.eid)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def rows_of_sessions(
    conn: Connection, table: Table, sids: Sequence[int], limit: int, after: int | None
) -> list[RowMapping]:
    """Rows of ``table`` belonging to ``sids``, a page at a time by its first key column."""
    order = next(iter(table.primary_key))
    found: list[RowMapping] = []
    for chunk in _chunks(sids):
        query = select(table).where(table.c.session_sid.in_(chunk))
        if after is not None:
            query = query.where(order > after)
        found.extend(conn.execute(query.order_by(order).limit(limit)).mappings())
    found.sort(key=lambda row: row[order.name])
    return found[:limit]


def user_state(conn: Connection, app_id: str, user_id: str) -> list[RowMapping]:
    st = state_entries.c
    query = select(state_entries).where(
        st.app_id == app_id, st.scope == "user", st.owner == user_id
    )
    return list(conn.execute(query.order_by(st.key)).mappings())


def links(
    conn: Connection, app_id: str, user_id: str | None, devices: Sequence[str]
) -> list[RowMapping]:
    where = [dl.user_id == user_id] if user_id is not None else []
    if devices:
        where.append(dl.device_id.in_(list(devices)))
    if not where:
        return []
    query = select(device_links).where(dl.app_id == app_id, or_(*where))
    return list(conn.execute(query.order_by(dl.linked_at)).mappings())


def pattern(conn: Connection, app_id: str, user_id: str) -> list[RowMapping]:
    up = user_patterns.c
    query = select(user_patterns).where(up.app_id == app_id, up.user_id == user_id)
    return list(conn.execute(query).mappings())


def count_rows(conn: Connection, table: Table, sids: Sequence[int]) -> int:
    total = 0
    for chunk in _chunks(sids):
        query = select(func.count()).select_from(table).where(table.c.session_sid.in_(chunk))
        total += int(conn.execute(query).scalar_one())
    return total


# -- erasure --------------------------------------------------------------------------------


def _subject_rows_where(table: Table, app_id: str, subjects: Sequence[tuple[str, str]]) -> Any:
    col = table.c
    return and_(
        col.app_id == app_id,
        or_(*(and_(col.subject_kind == k, col.subject_id == v) for k, v in subjects)),
    )


def erase_subject(
    conn: Connection,
    app_id: str,
    user_id: str | None,
    devices: Sequence[str],
    sids: Sequence[int],
    now: int,
) -> dict[str, int]:
    """Make the subject disappear at once: tombstone its sessions (freeing their ids), and
    remove its device links, consent, user state, pattern and visitor keys."""
    removed: dict[str, int] = {}
    running = 0
    for chunk in _chunks(sids):
        running += int(
            conn.execute(
                select(func.count())
                .select_from(sessions)
                .where(
                    s.sid.in_(chunk),
                    s.status == "active",
                    or_(s.idle_expires_at.is_(None), s.idle_expires_at > now),
                    or_(s.expires_at.is_(None), s.expires_at > now),
                )
            ).scalar_one()
        )
        conn.execute(
            update(sessions)
            .where(s.sid.in_(chunk))
            .values(deleted_at=now, id=literal("~deleted~").concat(cast(s.sid, String)))
        )
    removed["running"] = running
    link_where: list[ColumnElement[bool]] = [dl.device_id.in_(list(devices))] if devices else []
    if user_id is not None:
        link_where.append(dl.user_id == user_id)
    removed["devices"] = (
        conn.execute(delete(device_links).where(dl.app_id == app_id, or_(*link_where))).rowcount
        if link_where
        else 0
    )
    subjects = [("device", d) for d in devices] + ([("user", user_id)] if user_id else [])
    if subjects:
        removed["consent"] = conn.execute(
            delete(consent_records).where(_subject_rows_where(consent_records, app_id, subjects))
        ).rowcount
        removed["consent_log"] = conn.execute(
            delete(consent_log).where(_subject_rows_where(consent_log, app_id, subjects))
        ).rowcount
    # A device that still has sessions of someone else keeps its visitor key (and number).
    shared = set()
    if devices:
        shared = set(
            conn.execute(
                select(s.device_id)
                .where(s.app_id == app_id, _LIVE, s.device_id.in_(list(devices)))
                .distinct()
            ).scalars()
        )
    keys = [f"d:{d}" for d in devices if d not in shared] + ([f"u:{user_id}"] if user_id else [])
    if keys:
        # The number stays taken (old days' visitor sets still hold its bit) under a name
        # that is no longer the id.
        ak = analytics_keys.c
        conn.execute(
            update(analytics_keys)
            .where(ak.app_id == app_id, ak.key.in_(keys))
            .values(key=literal("~erased~").concat(cast(ak.n, String)))
        )
    if user_id is not None:
        st = state_entries.c
        removed["user_state"] = conn.execute(
            delete(state_entries).where(
                st.app_id == app_id, st.scope == "user", st.owner == user_id
            )
        ).rowcount
        up = user_patterns.c
        removed["patterns"] = conn.execute(
            delete(user_patterns).where(up.app_id == app_id, up.user_id == user_id)
        ).rowcount
    return removed


def delete_events_chunk(conn: Connection, sids: Sequence[int], limit: int) -> int:
    """Delete up to ``limit`` events of ``sids``; how many."""
    total = 0
    for chunk in _chunks(sids):
        doomed = select(e.eid).where(e.session_sid.in_(chunk)).limit(limit - total)
        total += conn.execute(delete(events).where(e.eid.in_(doomed.scalar_subquery()))).rowcount
        if total >= limit:
            break
    return total


def purge_sessions(conn: Connection, sids: Sequence[int]) -> int:
    """Delete the sessions ``sids`` and every row that belongs to them."""
    removed = 0
    for chunk in _chunks(sids):
        for table in SESSION_CHILD_TABLES:
            conn.execute(delete(table).where(table.c.session_sid.in_(chunk)))
        removed += conn.execute(delete(sessions).where(s.sid.in_(chunk))).rowcount
    return removed


# -- retention ------------------------------------------------------------------------------


def expire_events(conn: Connection, app_id: str, cutoff: int, limit: int) -> int:
    """Delete up to ``limit`` of the app's events that happened before ``cutoff``."""
    doomed = select(e.eid).where(e.app_id == app_id, e.occurred_at < cutoff).limit(limit)
    return conn.execute(delete(events).where(e.eid.in_(doomed.scalar_subquery()))).rowcount


def expire_messages(conn: Connection, app_id: str, cutoff: int, limit: int) -> int:
    """Delete up to ``limit`` of the app's messages written before ``cutoff``."""
    query = (
        select(m.seq)
        .join(sessions, s.sid == m.session_sid)
        .where(m.created_at < cutoff, s.app_id == app_id)
        .limit(limit)
    )
    seqs = list(conn.execute(query).scalars())
    if not seqs:
        return 0
    return conn.execute(delete(messages).where(m.seq.in_(seqs))).rowcount


def expire_sessions(conn: Connection, app_id: str, cutoff: int, now: int, limit: int) -> int:
    """Tombstone up to ``limit`` of the app's sessions that ended before ``cutoff`` (the
    purge job then removes them with everything they hold)."""
    query = (
        select(s.sid)
        .where(
            s.app_id == app_id,
            SESSION_ENDED,
            s.ended_at < cutoff,
            _LIVE,
        )
        .limit(limit)
    )
    sids = list(conn.execute(query).scalars())
    if not sids:
        return 0
    conn.execute(
        update(sessions)
        .where(s.sid.in_(sids))
        .values(deleted_at=now, id=literal("~deleted~").concat(cast(s.sid, String)))
    )
    return len(sids)


# -- rows keyed by a subject id in other capabilities' tables ---------------------------------


def _keyed(table: Table, column: str, values: Sequence[str], app_id: str) -> list[Any]:
    where: list[Any] = [table.c[column].in_(list(values))]
    if "app_id" in table.c:
        where.append(table.c.app_id == app_id)
    elif "session_sid" in table.c:
        where.append(table.c.session_sid.in_(select(s.sid).where(s.app_id == app_id)))
    return where


def rows_by(
    conn: Connection, table: Table, column: str, values: Sequence[str], app_id: str
) -> list[RowMapping]:
    """The app's rows of ``table`` whose ``column`` is one of ``values``."""
    if not values:
        return []
    query = select(table).where(*_keyed(table, column, values, app_id))
    return list(conn.execute(query).mappings())


def delete_by(
    conn: Connection, table: Table, column: str, values: Sequence[str], app_id: str
) -> int:
    if not values:
        return 0
    return conn.execute(delete(table).where(*_keyed(table, column, values, app_id))).rowcount


def blank_by(
    conn: Connection,
    table: Table,
    column: str,
    values: Sequence[str],
    app_id: str,
    changes: dict[str, Any],
) -> int:
    """Overwrite ``changes`` in the matching rows (what others' records keep of a subject)."""
    if not values:
        return 0
    query = update(table).where(*_keyed(table, column, values, app_id)).values(**changes)
    return conn.execute(query).rowcount


def public_ids(conn: Connection, sids: Sequence[int]) -> dict[int, str]:
    """sid -> the session's public id, for the live ones among ``sids``."""
    found: dict[int, str] = {}
    for chunk in _chunks(sorted(set(sids))):
        query = select(s.sid, s.id).where(s.sid.in_(chunk), _LIVE)
        found.update({row[0]: row[1] for row in conn.execute(query)})
    return found
