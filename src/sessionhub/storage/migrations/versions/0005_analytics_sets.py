"""analytics speed: per-day visitor and user sets, numbered visitor keys, a covering index
of events for funnels and paths

Revision ID: 0005
Revises: 0004

Rollups made before this revision have no sets: they are dropped, and the next worker
run recomputes every day (queries scan raw meanwhile, with the same answers).

``ix_events_session_steps`` (session, time, id, name, path) holds rows on SQLite only and
replaces ``ix_events_session`` there; on PostgreSQL it is created empty (a long path could
exceed a B-tree row's size limit) and ``ix_events_session`` stays.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_day_sets",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("visitors", sa.LargeBinary(), nullable=False),
        sa.Column("users", sa.LargeBinary(), nullable=False),
        sa.Column("anonymous", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "day", "kind"),
    )
    op.create_table(
        "analytics_keys",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(210), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "key"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_index(
        "ix_events_session_steps",
        "events",
        ["session_sid", "occurred_at", "eid", "name", "path"],
        postgresql_where=sa.false(),
    )
    if sqlite:
        op.drop_index("ix_events_session", table_name="events")
        op.create_index(
            "ix_events_session",
            "events",
            ["session_sid", "occurred_at"],
            sqlite_where=sa.false(),
        )
    op.execute("DELETE FROM analytics_rollups")
    op.execute("DELETE FROM analytics_days")
    op.execute("UPDATE analytics_state SET full_check_at = NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_events_session", table_name="events")
        op.create_index("ix_events_session", "events", ["session_sid", "occurred_at"])
    op.drop_index("ix_events_session_steps", table_name="events")
    op.drop_table("analytics_keys")
    op.drop_table("analytics_day_sets")
