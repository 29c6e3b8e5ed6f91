"""Queries for work sessions: the plan row, its members, full-text search and purging."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from sessionhub.storage import sessions as sq
from sessionhub.storage.prepared import Row
from sessionhub.storage.schema_work import (
    FTS_TABLE,
    work_attachments,
    work_blockers,
    work_comments,
    work_goal_deps,
    work_goals,
    work_members,
    work_mentions,
    work_milestones,
    work_sessions,
)

w = work_sessions.c
m = work_members.c
PLAN_CHILDREN = (
    work_members,
    work_goals,
    work_goal_deps,
    work_milestones,
    work_blockers,
    work_comments,
    work_mentions,
    work_attachments,
)
_WORD = re.compile(r"\w+", re.UNICODE)
_SEARCH_CONFIG = "simple"  # no stemming, like FTS5's unicode61: both backends match alike


def get(conn: Connection, app_id: str, session_id: str, *, lock: bool = False) -> Row | None:
    query = select(work_sessions).where(w.app_id == app_id, w.id == session_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def insert_plan(conn: Connection, row: dict[str, Any]) -> None:
    """Insert a plan row; its ``search_doc`` is indexed with it (on SQLite by a trigger)."""
    # Values as parameters, not in the statement: it compiles once and is cached.
    if conn.dialect.name == "postgresql":
        query = insert(work_sessions).values(
            search_tsv=func.to_tsvector(_SEARCH_CONFIG, bindparam("p_doc", type_=Text()))
        )
        conn.execute(query, {**row, "p_doc": row["search_doc"]})
    else:
        conn.execute(insert(work_sessions), row)


def add_member(conn: Connection, app_id: str, sid: int, user_id: str, role: str, now: int) -> None:
    conn.execute(
        insert(work_members),
        {"session_sid": sid, "user_id": user_id, "app_id": app_id, "role": role, "added_at": now},
    )


def update_plan(conn: Connection, sid: int, values: dict[str, Any]) -> Row:
    query = update(work_sessions).where(w.session_sid == sid).values(**values)
    return dict(conn.execute(query.returning(*work_sessions.c)).mappings().one())


# -- members -------------------------------------------------------------------------------


def role_of(conn: Connection, sid: int, user_id: str) -> str | None:
    query = select(m.role).where(m.session_sid == sid, m.user_id == user_id)
    role: str | None = conn.execute(query).scalar()
    return role


def members(conn: Connection, sid: int) -> list[Row]:
    query = select(work_members).where(m.session_sid == sid).order_by(m.added_at, m.user_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def put_member(conn: Connection, app_id: str, sid: int, user_id: str, role: str, now: int) -> None:
    changed = conn.execute(
        update(work_members).where(m.session_sid == sid, m.user_id == user_id).values(role=role)
    ).rowcount
    if not changed:
        conn.execute(
            insert(work_members).values(
                session_sid=sid, user_id=user_id, app_id=app_id, role=role, added_at=now
            )
        )


def remove_member(conn: Connection, sid: int, user_id: str) -> int:
    query = delete(work_members).where(m.session_sid == sid, m.user_id == user_id)
    return conn.execute(query).rowcount


def owners(conn: Connection, sid: int) -> int:
    query = select(func.count()).where(m.session_sid == sid, m.role == "owner")
    return int(conn.execute(query).scalar_one())


# -- full-text search ------------------------------------------------------------------------


def set_search_doc(conn: Connection, sid: int, doc: str) -> None:
    """Store the session's searchable text and index it (the tsvector here, or on SQLite
    the FTS5 table, by a trigger)."""
    values: dict[str, Any] = {"search_doc": doc}
    if conn.dialect.name == "postgresql":
        values["search_tsv"] = func.to_tsvector(_SEARCH_CONFIG, doc)
    conn.execute(update(work_sessions).where(w.session_sid == sid).values(**values))


def search_words(q: str) -> list[str]:
    """The words of a search; punctuation and query syntax are dropped, never interpreted."""
    return [word.lower() for word in _WORD.findall(q)][:20]


def _matches(conn: Connection, words: list[str]) -> ColumnElement[bool]:
    """Sessions whose text has every word (each as a prefix)."""
    if conn.dialect.name == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        return w.search_tsv.op("@@")(func.to_tsquery(_SEARCH_CONFIG, query))
    match = " ".join(f'"{word}"*' for word in words)
    matched = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match").bindparams(
        match=match
    )
    return w.session_sid.in_(matched.columns(rowid=w.session_sid.type))


SORTS: dict[str, tuple[str, bool]] = {
    "created_at": ("created_at", False),
    "-created_at": ("created_at", True),
    "updated_at": ("updated_at", False),
    "-updated_at": ("updated_at", True),
    "priority": ("priority_rank", False),
    "-priority": ("priority_rank", True),
    "name": ("name", False),
}


def search(
    conn: Connection,
    app_id: str,
    actor: str,
    filters: dict[str, Any],
    sort: str,
    limit: int,
    after: tuple[Any, int] | None,
) -> list[Row]:
    """A page of the sessions the actor is a member of that match, with the actor's role."""
    column_name, descending = SORTS[sort]
    column = w[column_name]
    mine = work_members.alias("mine")
    # The actor's memberships (in the app) drive the query: a user is in few of the app's
    # sessions, so reading theirs and sorting beats walking every session of the app.
    where: list[ColumnElement[bool]] = [mine.c.app_id == app_id]
    for name in ("status", "priority", "type", "template_id", "owner_id"):
        if filters.get(name) is not None:
            where.append(w[name] == filters[name])
    if filters.get("status") is None:
        where.append(w.status != "archived")  # archived ones only when asked for
    if filters.get("created_from") is not None:
        where.append(w.created_at >= filters["created_from"])
    if filters.get("created_to") is not None:
        where.append(w.created_at < filters["created_to"])
    if filters.get("collaborator") is not None:
        other = work_members.alias("other")
        where.append(
            exists().where(
                other.c.session_sid == w.session_sid,
                other.c.user_id == filters["collaborator"],
                other.c.role == "collaborator",
            )
        )
    words = search_words(filters.get("q") or "")
    if words:
        where.append(_matches(conn, words))
    if after is not None:
        value, sid = after
        beyond = column < value if descending else column > value
        tie = w.session_sid < sid if descending else w.session_sid > sid
        where.append(or_(beyond, and_(column == value, tie)))
    order = (column.desc(), w.session_sid.desc()) if descending else (column, w.session_sid)
    query = (
        select(work_sessions, mine.c.role.label("actor_role"))
        .select_from(mine)
        .join(work_sessions, and_(mine.c.session_sid == w.session_sid, mine.c.user_id == actor))
        .where(*where)
        .order_by(*order)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


# -- purge -------------------------------------------------------------------------------------


def purge(conn: Connection, sid: int, now: int) -> None:
    """Remove an archived session's plan and mark its session row deleted (the purge job
    removes that)."""
    for table in PLAN_CHILDREN:
        conn.execute(delete(table).where(table.c.session_sid == sid))
    conn.execute(delete(work_sessions).where(w.session_sid == sid))  # and its FTS5 entry
    sq.mark_deleted(conn, sid, now)


def user_history(conn: Connection, app_id: str, user_ids: list[str] | None) -> list[Row]:
    """Every non-archived work session owned by the users (every user: None), oldest first."""
    query = select(work_sessions).where(w.app_id == app_id)
    if user_ids is not None:
        query = query.where(w.owner_id.in_(user_ids))
    return [dict(r) for r in conn.execute(query.order_by(w.created_at)).mappings()]
