"""Queries for segments: definitions, static members, daily sizes, behaviour counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from sessionhub.storage.dialect import insert_ignore
from sessionhub.storage.schema import events, sessions
from sessionhub.storage.schema_personalization import (
    segment_members,
    segment_snapshots,
    segments,
)

g = segments.c
m = segment_members.c
n = segment_snapshots.c
e = events.c
s = sessions.c


def get(conn: Connection, app_id: str, key: str) -> RowMapping | None:
    return conn.execute(select(segments).where(g.app_id == app_id, g.key == key)).mappings().first()


def all_of(conn: Connection, app_id: str) -> list[RowMapping]:
    return list(conn.execute(select(segments).where(g.app_id == app_id).order_by(g.key)).mappings())


def apps_with_segments(conn: Connection) -> list[str]:
    return list(conn.execute(select(g.app_id).distinct().order_by(g.app_id)).scalars())


def put(conn: Connection, row: dict[str, Any], users: Sequence[str] | None) -> None:
    """Create or replace a segment (and a static one's members)."""
    changed = conn.execute(
        update(segments)
        .where(g.app_id == row["app_id"], g.key == row["key"])
        .values(
            name=row["name"], kind=row["kind"], rules=row["rules"], updated_at=row["updated_at"]
        )
    ).rowcount
    if not changed:
        conn.execute(insert(segments).values(**row))
    conn.execute(
        delete(segment_members).where(m.app_id == row["app_id"], m.segment_key == row["key"])
    )
    if users:
        conn.execute(
            insert_ignore(conn, segment_members),
            [
                {"app_id": row["app_id"], "segment_key": row["key"], "user_id": u}
                for u in set(users)
            ],
        )


def remove(conn: Connection, app_id: str, key: str) -> int:
    conn.execute(delete(segment_members).where(m.app_id == app_id, m.segment_key == key))
    conn.execute(delete(segment_snapshots).where(n.app_id == app_id, n.segment_key == key))
    return int(conn.execute(delete(segments).where(g.app_id == app_id, g.key == key)).rowcount)


def static_members(
    conn: Connection, app_id: str, key: str, limit: int, after: str | None
) -> list[str]:
    where = [m.app_id == app_id, m.segment_key == key]
    if after is not None:
        where.append(m.user_id > after)
    query = select(m.user_id).where(*where).order_by(m.user_id).limit(limit)
    return list(conn.execute(query).scalars())


def static_count(conn: Connection, app_id: str, key: str) -> int:
    query = select(func.count()).select_from(segment_members)
    return int(conn.execute(query.where(m.app_id == app_id, m.segment_key == key)).scalar_one())


def is_static_member(conn: Connection, app_id: str, key: str, user_id: str) -> bool:
    query = select(m.user_id).where(m.app_id == app_id, m.segment_key == key, m.user_id == user_id)
    return conn.execute(query).first() is not None


def behaviour_counts(
    conn: Connection, app_id: str, user_ids: Sequence[str], name: str, since: int
) -> dict[str, int]:
    """Events named ``name`` since ``since``, per user of ``user_ids``."""
    if not user_ids:
        return {}
    query = (
        select(s.user_id, func.count())
        .select_from(events.join(sessions, s.sid == e.session_sid))
        .where(
            s.app_id == app_id,
            s.user_id.in_(list(user_ids)),
            s.deleted_at.is_(None),
            e.name == name,
            e.occurred_at >= since,
        )
        .group_by(s.user_id)
    )
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def save_snapshot(
    conn: Connection, app_id: str, key: str, day: int, members: int, now: int
) -> None:
    changed = conn.execute(
        update(segment_snapshots)
        .where(n.app_id == app_id, n.segment_key == key, n.day == day)
        .values(members=members, taken_at=now)
    ).rowcount
    if not changed:
        conn.execute(
            insert(segment_snapshots).values(
                app_id=app_id, segment_key=key, day=day, members=members, taken_at=now
            )
        )


def snapshots(conn: Connection, app_id: str, key: str, since_day: int) -> list[RowMapping]:
    query = (
        select(n.day, n.members)
        .where(n.app_id == app_id, n.segment_key == key, n.day >= since_day)
        .order_by(n.day)
    )
    return list(conn.execute(query).mappings())


def has_snapshot(conn: Connection, app_id: str, day: int) -> bool:
    query = select(n.day).where(n.app_id == app_id, n.day == day).limit(1)
    return conn.execute(query).first() is not None
