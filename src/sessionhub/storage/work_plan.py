"""Queries for a work session's plan: goals and their dependencies, milestones, blockers,
comments, mentions, attachments and custom templates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, or_, select, update

from sessionhub.storage.prepared import Row
from sessionhub.storage.schema_work import (
    work_attachments,
    work_blockers,
    work_comments,
    work_goal_deps,
    work_goals,
    work_mentions,
    work_milestones,
    work_sessions,
    work_templates,
)

g = work_goals.c
d = work_goal_deps.c


def add(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    conn.execute(insert(table), row)


def add_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(table), rows)


def change(conn: Connection, table: Table, item_id: str, values: dict[str, Any]) -> Row:
    query = update(table).where(table.c.id == item_id).values(**values).returning(*table.c)
    return dict(conn.execute(query).mappings().one())


def remove(conn: Connection, table: Table, item_id: str) -> None:
    conn.execute(delete(table).where(table.c.id == item_id))


def item(conn: Connection, table: Table, sid: int, item_id: str) -> Row | None:
    """One goal, milestone, blocker, comment or attachment of the session, or None."""
    query = select(table).where(table.c.session_sid == sid, table.c.id == item_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def items(conn: Connection, table: Table, sid: int, order: Any) -> list[Row]:
    query = select(table).where(table.c.session_sid == sid).order_by(order, table.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


# -- goals -----------------------------------------------------------------------------------


def goals(conn: Connection, sid: int) -> list[Row]:
    return items(conn, work_goals, sid, g.position)


def deps(conn: Connection, sid: int) -> list[tuple[str, str]]:
    query = select(d.goal_id, d.depends_on).where(d.session_sid == sid)
    return [(a, b) for a, b in conn.execute(query)]


def set_deps(conn: Connection, sid: int, goal_id: str, depends_on: list[str]) -> None:
    conn.execute(delete(work_goal_deps).where(d.goal_id == goal_id))
    add_many(
        conn,
        work_goal_deps,
        [{"goal_id": goal_id, "depends_on": other, "session_sid": sid} for other in depends_on],
    )


def remove_goal(conn: Connection, goal_id: str) -> None:
    """Remove a goal, its dependencies either way, and lift its sub-goals to its parent."""
    parent = conn.execute(select(g.parent_id).where(g.id == goal_id)).scalar()
    conn.execute(update(work_goals).where(g.parent_id == goal_id).values(parent_id=parent))
    conn.execute(delete(work_goal_deps).where(or_(d.goal_id == goal_id, d.depends_on == goal_id)))
    remove(conn, work_goals, goal_id)


def next_position(conn: Connection, table: Table, sid: int) -> int:
    query = select(func.coalesce(func.max(table.c.position), -1)).where(table.c.session_sid == sid)
    return int(conn.execute(query).scalar_one()) + 1


def assign_milestone(conn: Connection, sid: int, milestone_id: str, goal_ids: list[str]) -> None:
    """Make ``goal_ids`` exactly the goals of the milestone."""
    conn.execute(
        update(work_goals)
        .where(g.session_sid == sid, g.milestone_id == milestone_id)
        .values(milestone_id=None)
    )
    if goal_ids:
        conn.execute(
            update(work_goals)
            .where(g.session_sid == sid, g.id.in_(goal_ids))
            .values(milestone_id=milestone_id)
        )


def remove_milestone(conn: Connection, sid: int, milestone_id: str) -> None:
    assign_milestone(conn, sid, milestone_id, [])
    remove(conn, work_milestones, milestone_id)


# -- comments and mentions ---------------------------------------------------------------------


def comments_page(
    conn: Connection, sid: int, limit: int, after: tuple[int, str] | None
) -> list[Row]:
    c = work_comments.c
    query = select(work_comments).where(c.session_sid == sid)
    if after is not None:
        at, comment_id = after
        query = query.where(or_(c.created_at > at, and_(c.created_at == at, c.id > comment_id)))
    query = query.order_by(c.created_at, c.id).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def comment_texts(conn: Connection, sid: int) -> list[str]:
    c = work_comments.c
    query = select(c.body).where(c.session_sid == sid, c.deleted_at.is_(None))
    return list(conn.execute(query.order_by(c.created_at, c.id)).scalars())


def set_mentions(
    conn: Connection, app_id: str, sid: int, comment_id: str, users: list[str], now: int
) -> None:
    mt = work_mentions.c
    conn.execute(delete(work_mentions).where(mt.comment_id == comment_id))
    add_many(
        conn,
        work_mentions,
        [
            {
                "user_id": user,
                "comment_id": comment_id,
                "app_id": app_id,
                "session_sid": sid,
                "created_at": now,
                "read_at": None,
            }
            for user in users
        ],
    )


def mentions_page(
    conn: Connection,
    app_id: str,
    user_id: str,
    unread_only: bool,
    limit: int,
    after: tuple[int, str] | None,
) -> list[Row]:
    mt, c, w = work_mentions.c, work_comments.c, work_sessions.c
    query = (
        select(
            mt.comment_id,
            mt.created_at,
            mt.read_at,
            w.id.label("session_id"),
            c.author_id,
            c.body,
        )
        .join(work_comments, c.id == mt.comment_id)
        .join(work_sessions, w.session_sid == mt.session_sid)
        .where(mt.app_id == app_id, mt.user_id == user_id, c.deleted_at.is_(None))
    )
    if unread_only:
        query = query.where(mt.read_at.is_(None))
    if after is not None:
        at, comment_id = after
        query = query.where(
            or_(mt.created_at < at, and_(mt.created_at == at, mt.comment_id < comment_id))
        )
    query = query.order_by(mt.created_at.desc(), mt.comment_id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def mark_mentions_read(conn: Connection, app_id: str, user_id: str, now: int) -> int:
    mt = work_mentions.c
    query = (
        update(work_mentions)
        .where(mt.app_id == app_id, mt.user_id == user_id, mt.read_at.is_(None))
        .values(read_at=now)
    )
    return conn.execute(query).rowcount


# -- templates ---------------------------------------------------------------------------------


def template_versions(conn: Connection, app_id: str, template_id: str) -> list[Row]:
    t = work_templates.c
    query = (
        select(work_templates)
        .where(t.app_id == app_id, t.id == template_id)
        .order_by(t.version.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def latest_templates(conn: Connection, app_id: str, user_id: str) -> list[Row]:
    """The latest version of each app-wide template and of the user's own."""
    t = work_templates.c
    latest = (
        select(t.id, func.max(t.version).label("version"))
        .where(t.app_id == app_id, or_(t.scope == "app", t.owner_id == user_id))
        .group_by(t.id)
        .subquery()
    )
    query = (
        select(work_templates)
        .join(latest, and_(latest.c.id == t.id, latest.c.version == t.version))
        .order_by(t.created_at, t.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


# -- insights ----------------------------------------------------------------------------------


def history_details(conn: Connection, sids: list[int]) -> tuple[list[Row], list[Row]]:
    """The goals and blockers of the given sessions (for insights)."""
    if not sids:
        return [], []
    goal_rows = conn.execute(select(work_goals).where(g.session_sid.in_(sids))).mappings()
    b = work_blockers.c
    blocker_rows = conn.execute(select(work_blockers).where(b.session_sid.in_(sids))).mappings()
    return [dict(r) for r in goal_rows], [dict(r) for r in blocker_rows]


def stored_attachment_ids(conn: Connection, ids: list[str]) -> set[str]:
    """Which of ``ids`` still have their attachment row (ids are unique across apps)."""
    a = work_attachments.c
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(a.id).where(a.id.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found


def attachment_ids(conn: Connection, sid: int) -> list[str]:
    a = work_attachments.c
    query = select(a.id).where(a.session_sid == sid, a.kind == "file")
    return list(conn.execute(query).scalars())
