"""privacy: consent records and log, data-subject requests, an index of messages by age

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("subject_kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "subject_kind", "subject_id", "purpose"),
    )
    op.create_index(
        "ix_consent_records_purpose", "consent_records", ["app_id", "purpose", "granted"]
    )
    op.create_table(
        "consent_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("subject_kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(
        "ix_consent_log_subject",
        "consent_log",
        ["app_id", "subject_kind", "subject_id", "seq"],
    )
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_ref", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subject_requests_app", "subject_requests", ["app_id", "started_at"])
    op.create_index("ix_messages_created", "messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_created", table_name="messages")
    op.drop_index("ix_subject_requests_app", table_name="subject_requests")
    op.drop_table("subject_requests")
    op.drop_index("ix_consent_log_subject", table_name="consent_log")
    op.drop_table("consent_log")
    op.drop_index("ix_consent_records_purpose", table_name="consent_records")
    op.drop_table("consent_records")
