"""personalization: settings, profiles, segments (members, snapshots), experiments
(exposures), federation grants

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "personalization_settings",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id"),
    )
    op.create_table(
        "profiles",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("resurrected_at", sa.BigInteger(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("last_session_sid", sa.BigInteger(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Integer(), nullable=False),
        sa.Column("devices", JSON, nullable=False),
        sa.Column("traits", JSON, nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("vector", JSON, nullable=False),
        sa.Column("vector_at", sa.BigInteger(), nullable=False),
        sa.Column("top_events", JSON, nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "kind", "subject_id"),
    )
    op.create_index("ix_profiles_last_seen", "profiles", ["app_id", "kind", "last_seen"])
    op.create_table(
        "segments",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("rules", JSON, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "key"),
    )
    op.create_table(
        "segment_members",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("segment_key", sa.String(100), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "segment_key", "user_id"),
    )
    op.create_table(
        "segment_snapshots",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("segment_key", sa.String(100), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "segment_key", "day"),
    )
    op.create_table(
        "experiments",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("unit", sa.String(10), nullable=False),
        sa.Column("variants", JSON, nullable=False),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("targeting", JSON, nullable=False),
        sa.Column("namespace", sa.String(100), nullable=True),
        sa.Column("namespace_start", sa.Float(), nullable=False),
        sa.Column("namespace_end", sa.Float(), nullable=False),
        sa.Column("goal", JSON, nullable=False),
        sa.Column("min_sample", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("stopped_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("app_id", "key"),
    )
    op.create_table(
        "experiment_exposures",
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("experiment_key", sa.String(100), nullable=False),
        sa.Column("unit_id", sa.String(200), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("exposed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "experiment_key", "unit_id"),
    )
    op.create_table(
        "federation_grants",
        sa.Column("owner_app_id", sa.String(40), nullable=False),
        sa.Column("grantee_app_id", sa.String(40), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner_app_id", "grantee_app_id"),
    )
    op.create_index("ix_federation_grants_grantee", "federation_grants", ["grantee_app_id"])


def downgrade() -> None:
    op.drop_index("ix_federation_grants_grantee", table_name="federation_grants")
    op.drop_table("federation_grants")
    op.drop_table("experiment_exposures")
    op.drop_table("experiments")
    op.drop_table("segment_snapshots")
    op.drop_table("segment_members")
    op.drop_table("segments")
    op.drop_index("ix_profiles_last_seen", table_name="profiles")
    op.drop_table("profiles")
    op.drop_table("personalization_settings")
