"""rollup durations: each daily rollup row keeps its sessions' duration histogram

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analytics_rollups", sa.Column("durations", sa.LargeBinary(), nullable=True))
    # Every rolled-up day no longer matches its fingerprint, so the worker recomputes it (with
    # its histograms) on its next run; until then medians read those days raw. Days whose raw
    # sessions retention already removed keep their rows, without durations.
    op.execute("UPDATE analytics_days SET fingerprint = 'before-durations'")


def downgrade() -> None:
    op.drop_column("analytics_rollups", "durations")
