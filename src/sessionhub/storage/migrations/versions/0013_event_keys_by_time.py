"""events are keyed by app, time and id: inserts land near the end of the index

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BY_ID = sa.text("dedupe_by_id IS true")


def upgrade() -> None:
    # The index on (app_id, id) alone took a page write per event once it outgrew a commit:
    # client ids are random. Keyed by time first, an insert lands near the index's end, and
    # the same index serves an app's events by time (it replaces ix_events_app_time).
    op.add_column(
        "events",
        sa.Column("dedupe_by_id", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Events stored before now whose time was the server's (no client time, as far as the
    # table tells) keep being recognised by their id alone when resent.
    op.execute("UPDATE events SET dedupe_by_id = true WHERE occurred_at = received_at")
    op.create_index("ux_events_app_time_id", "events", ["app_id", "occurred_at", "id"], unique=True)
    op.create_index(
        "ux_events_app_id_untimed",
        "events",
        ["app_id", "id"],
        unique=True,
        sqlite_where=_BY_ID,
        postgresql_where=_BY_ID,
    )
    op.drop_index("ux_events_app_id", table_name="events")
    op.drop_index("ix_events_app_time", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_app_time", "events", ["app_id", "occurred_at"])
    op.create_index("ux_events_app_id", "events", ["app_id", "id"], unique=True)
    op.drop_index("ux_events_app_id_untimed", table_name="events")
    op.drop_index("ux_events_app_time_id", table_name="events")
    op.drop_column("events", "dedupe_by_id")
