"""lighter hot-path indexes: a touch rewrites one session index, an append none for client ids

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_HAS_CLIENT_ID = sa.text("client_id IS NOT NULL")
_ENDED = sa.text("status = 'ended'")


def upgrade() -> None:
    # Every validate, heartbeat and event moves a running session's last activity: the
    # app/status index no longer holds it (retention reads an index of ended sessions).
    op.drop_index("ix_sessions_app_status", table_name="sessions")
    op.create_index("ix_sessions_app_status", "sessions", ["app_id", "status"])
    op.create_index(
        "ix_sessions_app_ended",
        "sessions",
        ["app_id", "last_activity_at"],
        sqlite_where=_ENDED,
        postgresql_where=_ENDED,
    )
    # Most messages carry no client id: indexing their NULLs cost every append an index
    # insert for entries no lookup reads.
    op.drop_index("ux_messages_client", table_name="messages")
    op.create_index(
        "ux_messages_client",
        "messages",
        ["session_sid", "client_id"],
        unique=True,
        sqlite_where=_HAS_CLIENT_ID,
        postgresql_where=_HAS_CLIENT_ID,
    )


def downgrade() -> None:
    op.drop_index("ux_messages_client", table_name="messages")
    op.create_index("ux_messages_client", "messages", ["session_sid", "client_id"], unique=True)
    op.drop_index("ix_sessions_app_ended", table_name="sessions")
    op.drop_index("ix_sessions_app_status", table_name="sessions")
    op.create_index("ix_sessions_app_status", "sessions", ["app_id", "status", "last_activity_at"])
