"""retention finds old ended sessions by when they ended: no index holds the last activity

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ENDED = sa.text("status = 'ended'")


def _ended_index(column: str) -> None:
    op.create_index(
        "ix_sessions_app_ended",
        "sessions",
        ["app_id", column],
        sqlite_where=_ENDED,
        postgresql_where=_ENDED,
    )


def upgrade() -> None:
    # The last activity in an index, even a partial one, made each touch on PostgreSQL a new
    # row version in every index of the table (no HOT update).
    op.drop_index("ix_sessions_app_ended", table_name="sessions")
    _ended_index("ended_at")


def downgrade() -> None:
    op.drop_index("ix_sessions_app_ended", table_name="sessions")
    _ended_index("last_activity_at")
