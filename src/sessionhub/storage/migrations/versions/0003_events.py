"""events: the events table, session counters and enrichment fixed at session start

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SESSION_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("is_bot", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("region", sa.String(100), nullable=True),
    sa.Column("city", sa.String(100), nullable=True),
    sa.Column("source", sa.String(200), nullable=True),
    sa.Column("medium", sa.String(50), nullable=True),
    sa.Column("referrer_domain", sa.String(253), nullable=True),
    sa.Column("page_views", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("event_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("action_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("error_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("conversion_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("workflow_starts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("workflow_completes", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("engaged_ms", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("last_event_at", sa.BigInteger(), nullable=True),
]


def upgrade() -> None:
    for column in SESSION_COLUMNS:
        op.add_column("sessions", column)
    op.create_table(
        "events",
        sa.Column("eid", ROWID, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("referrer", sa.Text(), nullable=True),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("since_prev_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ux_events_app_id", "events", ["app_id", "id"], unique=True)
    op.create_index("ix_events_session", "events", ["session_sid", "occurred_at"])
    op.create_index("ix_events_app_time", "events", ["app_id", "occurred_at"])


def downgrade() -> None:
    op.drop_table("events")
    with op.batch_alter_table("sessions") as batch:
        for column in reversed(SESSION_COLUMNS):
            batch.drop_column(column.name)
