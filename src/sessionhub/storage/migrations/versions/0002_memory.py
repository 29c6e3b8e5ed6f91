"""conversation memory: messages, preferences, cart, state, response cache, shares

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:36:38.273425
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "session_memory",
        sa.Column("session_sid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("history_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("preferences", JSON, nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_sid"),
    )
    with op.batch_alter_table("session_memory", schema=None) as batch_op:
        batch_op.create_index("ix_session_memory_history_due", ["history_expires_at"], unique=False)

    op.create_table(
        "messages",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("chars", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_session_seq", ["session_sid", "seq"], unique=False)
        batch_op.create_index("ux_messages_client", ["session_sid", "client_id"], unique=True)

    op.create_table(
        "cart_items",
        sa.Column("session_sid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("price", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_sid", "sku"),
    )

    op.create_table(
        "state_entries",
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "scope", "owner", "key"),
    )
    with op.batch_alter_table("state_entries", schema=None) as batch_op:
        batch_op.create_index("ix_state_entries_session", ["session_sid"], unique=False)
        batch_op.create_index("ix_state_entries_expires", ["expires_at"], unique=False)

    op.create_table(
        "response_cache",
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=True),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("app_id", "scope", "prompt_hash"),
    )
    with op.batch_alter_table("response_cache", schema=None) as batch_op:
        batch_op.create_index("ix_response_cache_session", ["session_sid"], unique=False)
        batch_op.create_index("ix_response_cache_expires", ["expires_at"], unique=False)

    op.create_table(
        "response_cache_stats",
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=True),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("misses", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "scope"),
    )
    with op.batch_alter_table("response_cache_stats", schema=None) as batch_op:
        batch_op.create_index("ix_response_cache_stats_session", ["session_sid"], unique=False)

    op.create_table(
        "shares",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("session_sid", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.create_index("ix_shares_session", ["session_sid"], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ("shares", ["ix_shares_session"]),
        ("response_cache_stats", ["ix_response_cache_stats_session"]),
        ("response_cache", ["ix_response_cache_expires", "ix_response_cache_session"]),
        ("state_entries", ["ix_state_entries_expires", "ix_state_entries_session"]),
        ("cart_items", []),
        ("messages", ["ux_messages_client", "ix_messages_session_seq"]),
        ("session_memory", ["ix_session_memory_history_due"]),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
