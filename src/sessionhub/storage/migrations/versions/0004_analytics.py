"""analytics: daily rollups, their bookkeeping, and users' patterns

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
COUNTERS = (
    "sessions",
    "bounces",
    "engaged",
    "duration_ms",
    "page_views",
    "events",
    "actions",
    "errored",
    "converted",
    "visitors",
    "users",
)


def upgrade() -> None:
    op.create_index(
        "ix_sessions_analytics",
        "sessions",
        ["app_id", "started_at", "kind", "is_bot", "deleted_at", "device_id", "user_id"],
    )
    op.create_table(
        "analytics_rollups",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("dimension", sa.String(40), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTERS),
    )
    op.create_index("ix_analytics_rollups_day", "analytics_rollups", ["app_id", "dimension", "day"])
    op.create_table(
        "analytics_days",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("settings_key", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "day"),
    )
    op.create_table(
        "analytics_state",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("full_check_at", sa.BigInteger(), nullable=True),
        sa.Column("patterns_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("app_id"),
    )
    op.create_table(
        "user_patterns",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("pattern", sa.String(40), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("patterns", JSON, nullable=False),
        sa.Column("engagement_score", sa.Float(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_analytics", table_name="sessions")
    op.drop_table("user_patterns")
    op.drop_table("analytics_state")
    op.drop_table("analytics_days")
    op.drop_table("analytics_rollups")
