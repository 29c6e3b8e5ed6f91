"""initial schema: apps, keys, sessions, device links, leases

Revision ID: 0001
Revises:
Create Date: 2026-11-21 06:31:33.648455
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "settings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "device_links",
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("linked_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "device_id"),
    )
    with op.batch_alter_table("device_links", schema=None) as batch_op:
        batch_op.create_index("ix_device_links_user", ["app_id", "user_id"], unique=False)

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "sessions",
        sa.Column(
            "sid",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("device_id", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("last_activity_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("idle_timeout_ms", sa.BigInteger(), nullable=True),
        sa.Column("idle_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("meta", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("device_type", sa.String(length=20), nullable=True),
        sa.Column("browser", sa.String(length=100), nullable=True),
        sa.Column("os", sa.String(length=100), nullable=True),
        sa.Column("screen", sa.String(length=20), nullable=True),
        sa.Column("entry_page", sa.Text(), nullable=True),
        sa.Column("referrer", sa.Text(), nullable=True),
        sa.Column("utm_source", sa.String(length=200), nullable=True),
        sa.Column("utm_medium", sa.String(length=200), nullable=True),
        sa.Column("utm_campaign", sa.String(length=200), nullable=True),
        sa.Column("utm_term", sa.String(length=200), nullable=True),
        sa.Column("utm_content", sa.String(length=200), nullable=True),
        sa.Column("exit_page", sa.Text(), nullable=True),
        sa.Column("last_action", sa.String(length=200), nullable=True),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("sid"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_abs_due", ["status", "expires_at"], unique=False)
        batch_op.create_index(
            "ix_sessions_app_device", ["app_id", "device_id", "started_at"], unique=False
        )
        batch_op.create_index("ix_sessions_app_started", ["app_id", "started_at"], unique=False)
        batch_op.create_index(
            "ix_sessions_app_status", ["app_id", "status", "last_activity_at"], unique=False
        )
        batch_op.create_index(
            "ix_sessions_app_user", ["app_id", "user_id", "started_at"], unique=False
        )
        batch_op.create_index("ix_sessions_deleted", ["deleted_at"], unique=False)
        batch_op.create_index("ix_sessions_idle_due", ["status", "idle_expires_at"], unique=False)
        batch_op.create_index("ux_sessions_app_id", ["app_id", "id"], unique=True)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_app", ["app_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_app")

    op.drop_table("api_keys")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ux_sessions_app_id")
        batch_op.drop_index("ix_sessions_idle_due")
        batch_op.drop_index("ix_sessions_deleted")
        batch_op.drop_index("ix_sessions_app_user")
        batch_op.drop_index("ix_sessions_app_status")
        batch_op.drop_index("ix_sessions_app_started")
        batch_op.drop_index("ix_sessions_app_device")
        batch_op.drop_index("ix_sessions_abs_due")

    op.drop_table("sessions")
    op.drop_table("leases")
    with op.batch_alter_table("device_links", schema=None) as batch_op:
        batch_op.drop_index("ix_device_links_user")

    op.drop_table("device_links")
    op.drop_table("apps")
