"""Tables of planned work sessions (issue 6): the plan, its people, goals and talk.

A work session is a ``sessions`` row of kind ``work`` (its id, user, start, and the
lifecycle the rest of Sessionhub relies on) plus a ``work_sessions`` row keyed by the
same ``session_sid`` that holds the plan. Every table here with a ``session_sid`` is a
child of the session, so the purge job removes it with the session.

Full-text search over ``work_sessions.search_doc``: PostgreSQL keeps a ``tsvector`` of it
in ``search_tsv`` (GIN-indexed); SQLite indexes it in the external-content FTS5 table
``work_fts`` (rowid = session_sid), kept in sync by triggers. The migration creates both
by hand: they are not in ``metadata``, and ``include_object`` keeps schema comparisons off
the FTS5 table and its shadow tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, false
from sqlalchemy.dialects.postgresql import TSVECTOR

from sessionhub.storage.schema import SESSION_CHILD_TABLES, Json, Millis, metadata

# The FTS5 table (SQLite only) and the prefix its shadow tables share.
FTS_TABLE = "work_fts"

# A tsvector on PostgreSQL; on SQLite the column exists (one schema) but stays empty.
SearchVector = TSVECTOR().with_variant(Text(), "sqlite")

work_sessions = Table(
    "work_sessions",
    metadata,
    Column("session_sid", BigInteger, primary_key=True, autoincrement=False),
    Column("app_id", String(40), nullable=False),
    Column("id", String(200), nullable=False),
    Column("owner_id", String(200), nullable=False),
    Column("status", String(12), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("type", String(40), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("priority_rank", Integer, nullable=False),
    Column("estimate_s", Integer, nullable=True),
    Column("difficulty", String(10), nullable=True),
    Column("skills", Json, nullable=False),
    Column("custom", Json, nullable=False),
    Column("template_id", String(40), nullable=True),
    Column("template_version", Integer, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Column("started_at", Millis, nullable=True),
    Column("completed_at", Millis, nullable=True),
    Column("cancelled_at", Millis, nullable=True),
    Column("archived_at", Millis, nullable=True),
    # When the current active stretch began (None unless active); active_ms holds the
    # stretches before it, so the actual duration counts active time only.
    Column("active_since", Millis, nullable=True),
    Column("active_ms", BigInteger, nullable=False),
    Column("transitions", Json, nullable=False),
    Column("search_doc", Text, nullable=False),
    Column("search_tsv", SearchVector, nullable=True),
)
Index("ux_work_sessions_app_id", work_sessions.c.app_id, work_sessions.c.id, unique=True)
Index("ix_work_sessions_app_created", work_sessions.c.app_id, work_sessions.c.created_at)
Index(
    "ix_work_sessions_search",
    work_sessions.c.search_tsv,
    postgresql_using="gin",
    sqlite_where=false(),  # SQLite searches work_fts instead: created empty there
)

# Who may do what in a work session: owner, collaborator or viewer.
work_members = Table(
    "work_members",
    metadata,
    Column("session_sid", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(200), primary_key=True),
    Column("app_id", String(40), nullable=False),
    Column("role", String(12), nullable=False),
    Column("added_at", Millis, nullable=False),
)
Index("ix_work_members_user", work_members.c.app_id, work_members.c.user_id)

work_goals = Table(
    "work_goals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_sid", BigInteger, nullable=False),
    Column("parent_id", String(40), nullable=True),
    Column("milestone_id", String(40), nullable=True),
    Column("title", String(500), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("estimate_s", Integer, nullable=True),
    Column("success_criteria", Text, nullable=False),
    Column("category", String(20), nullable=False),
    Column("skills", Json, nullable=False),
    Column("position", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Column("done_at", Millis, nullable=True),
)
Index("ix_work_goals_session", work_goals.c.session_sid, work_goals.c.position)

# Goal ``goal_id`` depends on ``depends_on``: it can't be done while that one is open.
work_goal_deps = Table(
    "work_goal_deps",
    metadata,
    Column("goal_id", String(40), primary_key=True),
    Column("depends_on", String(40), primary_key=True),
    Column("session_sid", BigInteger, nullable=False),
)
Index("ix_work_goal_deps_session", work_goal_deps.c.session_sid)

work_milestones = Table(
    "work_milestones",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_sid", BigInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("target_offset_s", Integer, nullable=True),
    Column("position", Integer, nullable=False),
    Column("created_at", Millis, nullable=False),
)
Index("ix_work_milestones_session", work_milestones.c.session_sid)

work_blockers = Table(
    "work_blockers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_sid", BigInteger, nullable=False),
    Column("goal_id", String(40), nullable=True),
    Column("description", Text, nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("opened_at", Millis, nullable=False),
    Column("resolved_by", String(200), nullable=True),
    Column("resolved_at", Millis, nullable=True),
    Column("resolution", Text, nullable=True),
    Column("time_lost_ms", BigInteger, nullable=True),
)
Index("ix_work_blockers_session", work_blockers.c.session_sid)

work_comments = Table(
    "work_comments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_sid", BigInteger, nullable=False),
    Column("parent_id", String(40), nullable=True),
    Column("author_id", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("mentions", Json, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("edited_at", Millis, nullable=True),
    Column("deleted_at", Millis, nullable=True),
)
Index("ix_work_comments_session", work_comments.c.session_sid, work_comments.c.created_at)

# Each user's mentions inbox: one row per (user, comment) that @mentions them.
work_mentions = Table(
    "work_mentions",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("comment_id", String(40), primary_key=True),
    Column("app_id", String(40), nullable=False),
    Column("session_sid", BigInteger, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("read_at", Millis, nullable=True),
)
Index("ix_work_mentions_inbox", work_mentions.c.app_id, work_mentions.c.user_id)
Index("ix_work_mentions_session", work_mentions.c.session_sid)

work_attachments = Table(
    "work_attachments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("session_sid", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),  # file or link
    Column("name", String(200), nullable=False),
    Column("content_type", String(100), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("url", Text, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", Millis, nullable=False),
)
Index("ix_work_attachments_session", work_attachments.c.session_sid)

# Custom templates, one row per version; the built-in ones live in code.
work_templates = Table(
    "work_templates",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("app_id", String(40), nullable=False),
    Column("scope", String(8), nullable=False),  # app or user
    Column("owner_id", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("spec", Json, nullable=False),
    Column("created_at", Millis, nullable=False),
)
Index("ix_work_templates_app", work_templates.c.app_id, work_templates.c.owner_id)

SESSION_CHILD_TABLES.extend(
    [
        work_sessions,
        work_members,
        work_goals,
        work_goal_deps,
        work_milestones,
        work_blockers,
        work_comments,
        work_mentions,
        work_attachments,
    ]
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the FTS5 table and its shadow tables out of schema comparisons (not in metadata)."""
    return not (type_ == "table" and name is not None and name.startswith(FTS_TABLE))
