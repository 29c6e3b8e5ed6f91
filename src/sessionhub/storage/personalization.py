"""Queries for personalization settings and profiles, and the raw events that feed them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from sessionhub import crypto
from sessionhub.storage.prepared import Prepared
from sessionhub.storage.schema import events, sessions, user_patterns
from sessionhub.storage.schema_personalization import personalization_settings, profiles

p = profiles.c
e = events.c
s = sessions.c
Key = tuple[str, str]  # (kind, subject id)

PROFILE_COLUMNS = tuple(c.name for c in profiles.columns if c.name != "app_id")
_VALUES = PROFILE_COLUMNS[2:]  # all but the key (app, kind, subject)

# Ingestion runs these on every batch: compiled once, on the driver's cursor.
_PROFILE = Prepared(
    select(profiles).where(
        p.app_id == bindparam("p_app"),
        p.kind == bindparam("p_kind"),
        p.subject_id == bindparam("p_subject"),
    )
)
_INSERT = Prepared(
    insert(profiles).values(
        {"app_id": bindparam("p_app"), **{n: bindparam(f"v_{n}") for n in PROFILE_COLUMNS}}
    )
)
_UPDATE = Prepared(
    update(profiles)
    .where(
        p.app_id == bindparam("p_app"),
        p.kind == bindparam("p_kind"),
        p.subject_id == bindparam("p_subject"),
    )
    .values({n: bindparam(f"v_{n}") for n in _VALUES})
)


def get_config(conn: Connection, app_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(personalization_settings.c.config).where(personalization_settings.c.app_id == app_id)
    ).first()
    return dict(row[0]) if row is not None else None


def put_config(conn: Connection, app_id: str, config: dict[str, Any], now: int) -> None:
    t = personalization_settings
    changed = conn.execute(
        update(t).where(t.c.app_id == app_id).values(config=config, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(insert(t).values(app_id=app_id, config=config, updated_at=now))


def load_profiles(conn: Connection, app_id: str, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
    """The stored profiles of ``keys`` (those that exist), as plain dicts."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    found: dict[Key, dict[str, Any]] = {}
    if len(wanted) <= 4:  # the usual batch: one tracker's visitor
        for kind, subject in wanted:
            row = _PROFILE.first(conn, {"p_app": app_id, "p_kind": kind, "p_subject": subject})
            if row is not None:
                found[(kind, subject)] = row
        return found
    for start in range(0, len(wanted), 400):
        chunk = wanted[start : start + 400]
        kinds = {kind for kind, _ in chunk}
        where = or_(
            *(
                and_(p.kind == kind, p.subject_id.in_([sid for k, sid in chunk if k == kind]))
                for kind in sorted(kinds)
            )
        )
        query = select(profiles).where(p.app_id == app_id, where)
        for mapping in conn.execute(query).mappings():
            found[(mapping["kind"], mapping["subject_id"])] = dict(mapping)
    return found


def save_profiles(
    conn: Connection, app_id: str, new: Sequence[dict[str, Any]], changed: Sequence[dict[str, Any]]
) -> None:
    """Insert the new profiles and write the changed ones back."""
    for row in new:
        _INSERT.rowcount(conn, {"p_app": app_id, **{f"v_{n}": row[n] for n in PROFILE_COLUMNS}})
    for row in changed:
        _UPDATE.rowcount(
            conn,
            {
                "p_app": app_id,
                "p_kind": row["kind"],
                "p_subject": row["subject_id"],
                **{f"v_{n}": row[n] for n in _VALUES},
            },
        )


def delete_profile(conn: Connection, app_id: str, key: Key) -> int:
    return int(
        conn.execute(
            delete(profiles).where(p.app_id == app_id, p.kind == key[0], p.subject_id == key[1])
        ).rowcount
    )


def delete_profiles(conn: Connection, app_id: str) -> int:
    return int(conn.execute(delete(profiles).where(p.app_id == app_id)).rowcount)


def list_profiles(
    conn: Connection,
    app_id: str,
    kind: str,
    limit: int,
    after: str | None,
    columns: Sequence[str] | None = None,
) -> list[RowMapping]:
    """Profiles of one kind by subject id, after ``after``: every column, or ``columns``
    (decoding JSON columns nobody reads is most of the cost of a long walk)."""
    where = [p.app_id == app_id, p.kind == kind]
    if after is not None:
        where.append(p.subject_id > after)
    chosen = profiles.c if columns is None else [p[name] for name in columns]
    query = select(*chosen).where(*where).order_by(p.subject_id).limit(limit)
    return list(conn.execute(query).mappings())


def rank_counts(
    conn: Connection, app_id: str, values: dict[str, float]
) -> tuple[int, dict[str, int]]:
    """How many user profiles there are, and for each column how many score below ``value``."""
    total = conn.execute(
        select(func.count()).select_from(profiles).where(p.app_id == app_id, p.kind == "user")
    ).scalar_one()
    below = {}
    for column, value in values.items():
        below[column] = int(
            conn.execute(
                select(func.count())
                .select_from(profiles)
                .where(p.app_id == app_id, p.kind == "user", p[column] < value)
            ).scalar_one()
        )
    return int(total), below


def pattern_of(conn: Connection, app_id: str, user_id: str) -> RowMapping | None:
    u = user_patterns.c
    query = select(u.pattern, u.confidence, u.engagement_score).where(
        u.app_id == app_id, u.user_id == user_id
    )
    return conn.execute(query).mappings().first()


def patterns_of(conn: Connection, app_id: str, user_ids: Sequence[str]) -> dict[str, str]:
    u = user_patterns.c
    query = select(u.user_id, u.pattern).where(u.app_id == app_id, u.user_id.in_(list(user_ids)))
    return {row[0]: row[1] for row in conn.execute(query)}


_EVENT_COLUMNS = (
    e.eid,
    e.id,
    e.name,
    e.occurred_at,
    e.path,
    e.properties,
    e.session_sid,
    s.id.label("session_id"),
    s.user_id,
    s.device_id,
)


def _opened(rows: Iterable[Any]) -> list[Any]:
    """Event rows with their properties opened when encryption at rest is on."""
    if not crypto.KEYS:
        return list(rows)
    return crypto.open_json_rows(rows, "properties", "events.properties")


def subject_events(
    conn: Connection, app_id: str, kind: str, subject_id: str, since: int | None = None
) -> list[RowMapping]:
    """The events of a user's (or a device's) sessions, oldest first."""
    column = s.user_id if kind == "user" else s.device_id
    where = [s.app_id == app_id, column == subject_id, s.deleted_at.is_(None)]
    if since is not None:
        where.append(e.occurred_at >= since)
    query = (
        select(*_EVENT_COLUMNS)
        .join(sessions, s.sid == e.session_sid)
        .where(*where)
        .order_by(e.occurred_at, e.eid)
    )
    return _opened(conn.execute(query).mappings())


_RECENT_USER_EVENTS = Prepared(
    select(*_EVENT_COLUMNS)
    .join(sessions, s.sid == e.session_sid)
    .where(
        s.app_id == bindparam("p_app"),
        s.user_id == bindparam("p_user"),
        s.deleted_at.is_(None),
        e.occurred_at >= bindparam("p_since"),
    )
    .order_by(e.occurred_at.desc(), e.eid.desc())
    .limit(bindparam("p_limit"))
)


def recent_user_events(
    conn: Connection, app_id: str, user_id: str, since: int, limit: int
) -> list[dict[str, Any]]:
    """A user's latest events (at most ``limit``, since ``since``), newest first."""
    return _opened(
        _RECENT_USER_EVENTS.all(
            conn, {"p_app": app_id, "p_user": user_id, "p_since": since, "p_limit": limit}
        )
    )


def app_events(
    conn: Connection, app_id: str, after_eid: int, limit: int, since: int | None = None
) -> list[RowMapping]:
    """The app's events in insertion order after ``after_eid`` (a chunk of a full scan)."""
    where = [e.app_id == app_id, e.eid > after_eid, s.deleted_at.is_(None)]
    if since is not None:
        where.append(e.occurred_at >= since)
    query = (
        select(*_EVENT_COLUMNS)
        .join(sessions, s.sid == e.session_sid)
        .where(*where)
        .order_by(e.eid)
        .limit(limit)
    )
    return _opened(conn.execute(query).mappings())


def session_events(conn: Connection, app_id: str, session_id: str) -> list[RowMapping]:
    """The events of one session, oldest first."""
    query = (
        select(*_EVENT_COLUMNS)
        .join(sessions, s.sid == e.session_sid)
        .where(s.app_id == app_id, s.id == session_id, s.deleted_at.is_(None))
        .order_by(e.occurred_at, e.eid)
    )
    return _opened(conn.execute(query).mappings())
