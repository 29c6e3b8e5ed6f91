"""work sessions: the plan, members, goals and their dependencies, milestones, blockers,
comments and mentions, attachments, custom templates, and full-text search

Revision ID: 0006
Revises: 0005

Search: on PostgreSQL ``work_sessions.search_tsv`` with a GIN index; on SQLite the FTS5
virtual table ``work_fts`` over ``work_sessions.search_doc`` (rowid = the session's sid)
with the triggers that keep it in sync, made here by hand because they are not part of
``metadata`` (schema comparisons skip them: see schema_work.include_object).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TSV_TYPE = postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite")
# An external-content FTS5 index of work_sessions.search_doc, kept in sync by triggers
# whoever changes or deletes the rows (this module, the purge job, a privacy erasure), so
# no text outlives its session and none is stored twice.
FTS_SQLITE = (
    "CREATE VIRTUAL TABLE work_fts USING fts5(search_doc, content='work_sessions', "
    "content_rowid='session_sid', tokenize='unicode61')",
    "CREATE TRIGGER work_fts_insert AFTER INSERT ON work_sessions BEGIN "
    "INSERT INTO work_fts(rowid, search_doc) VALUES (new.session_sid, new.search_doc); END",
    "CREATE TRIGGER work_fts_update AFTER UPDATE OF search_doc ON work_sessions BEGIN "
    "INSERT INTO work_fts(work_fts, rowid, search_doc) "
    "VALUES ('delete', old.session_sid, old.search_doc); "
    "INSERT INTO work_fts(rowid, search_doc) VALUES (new.session_sid, new.search_doc); END",
    "CREATE TRIGGER work_fts_delete AFTER DELETE ON work_sessions BEGIN "
    "INSERT INTO work_fts(work_fts, rowid, search_doc) "
    "VALUES ('delete', old.session_sid, old.search_doc); END",
)
TABLES = (
    "work_attachments",
    "work_blockers",
    "work_comments",
    "work_goal_deps",
    "work_goals",
    "work_members",
    "work_mentions",
    "work_milestones",
    "work_sessions",
    "work_templates",
)


def upgrade() -> None:
    op.create_table(
        "work_attachments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_work_attachments_session", "work_attachments", ["session_sid"], unique=False
    )
    op.create_table(
        "work_blockers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("goal_id", sa.String(length=40), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("time_lost_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_work_blockers_session", "work_blockers", ["session_sid"], unique=False)
    op.create_table(
        "work_comments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.String(length=40), nullable=True),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("edited_at", sa.BigInteger(), nullable=True),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_work_comments_session", "work_comments", ["session_sid", "created_at"], unique=False
    )
    op.create_table(
        "work_goal_deps",
        sa.Column("goal_id", sa.String(length=40), nullable=False),
        sa.Column("depends_on", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("goal_id", "depends_on"),
    )
    op.create_index("ix_work_goal_deps_session", "work_goal_deps", ["session_sid"], unique=False)
    op.create_table(
        "work_goals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.String(length=40), nullable=True),
        sa.Column("milestone_id", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("estimate_s", sa.Integer(), nullable=True),
        sa.Column("success_criteria", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("skills", JSON_TYPE, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("done_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_work_goals_session", "work_goals", ["session_sid", "position"], unique=False
    )
    op.create_table(
        "work_members",
        sa.Column("session_sid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_sid", "user_id"),
    )
    op.create_index("ix_work_members_user", "work_members", ["app_id", "user_id"], unique=False)
    op.create_table(
        "work_mentions",
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("comment_id", sa.String(length=40), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "comment_id"),
    )
    op.create_index("ix_work_mentions_inbox", "work_mentions", ["app_id", "user_id"], unique=False)
    op.create_index("ix_work_mentions_session", "work_mentions", ["session_sid"], unique=False)
    op.create_table(
        "work_milestones",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target_offset_s", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_work_milestones_session", "work_milestones", ["session_sid"], unique=False)
    op.create_table(
        "work_sessions",
        sa.Column("session_sid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("estimate_s", sa.Integer(), nullable=True),
        sa.Column("difficulty", sa.String(length=10), nullable=True),
        sa.Column("skills", JSON_TYPE, nullable=False),
        sa.Column("custom", JSON_TYPE, nullable=False),
        sa.Column("template_id", sa.String(length=40), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_at", sa.BigInteger(), nullable=True),
        sa.Column("archived_at", sa.BigInteger(), nullable=True),
        sa.Column("active_since", sa.BigInteger(), nullable=True),
        sa.Column("active_ms", sa.BigInteger(), nullable=False),
        sa.Column("transitions", JSON_TYPE, nullable=False),
        sa.Column("search_doc", sa.Text(), nullable=False),
        sa.Column("search_tsv", TSV_TYPE, nullable=True),
        sa.PrimaryKeyConstraint("session_sid"),
    )
    op.create_index(
        "ix_work_sessions_app_created", "work_sessions", ["app_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_work_sessions_search",
        "work_sessions",
        ["search_tsv"],
        unique=False,
        postgresql_using="gin",
        sqlite_where=sa.false(),
    )
    op.create_index("ux_work_sessions_app_id", "work_sessions", ["app_id", "id"], unique=True)
    op.create_table(
        "work_templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", "version"),
    )
    op.create_index("ix_work_templates_app", "work_templates", ["app_id", "owner_id"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS_SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("work_fts_insert", "work_fts_update", "work_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS work_fts")
    for name in TABLES:
        op.drop_table(name)
