"""the worker finds idle sessions by idle_check_at, which no touch moves

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every validate, heartbeat and event moved idle_expires_at, and with it an entry of the
    # worker's index. The worker now reads an early bound of it that only the worker moves.
    op.add_column("sessions", sa.Column("idle_check_at", sa.BigInteger(), nullable=True))
    op.execute("UPDATE sessions SET idle_check_at = idle_expires_at")
    op.create_index("ix_sessions_idle_check", "sessions", ["status", "idle_check_at"])
    op.drop_index("ix_sessions_idle_due", table_name="sessions")


def downgrade() -> None:
    op.create_index("ix_sessions_idle_due", "sessions", ["status", "idle_expires_at"])
    op.drop_index("ix_sessions_idle_check", table_name="sessions")
    op.drop_column("sessions", "idle_check_at")
