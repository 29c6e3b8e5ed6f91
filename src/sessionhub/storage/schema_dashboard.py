"""The table of dashboard sign-ins: on the shared metadata of storage/schema.py."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from sessionhub.storage.schema import Millis, metadata

# One row per signed-in browser. The cookie holds a random token; only its SHA-256 is
# stored (``id``), so a copy of the table signs nobody in. ``key_id`` is the key used to
# sign in: revoking that key ends the sign-in on its next request.
dashboard_logins = Table(
    "dashboard_logins",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("app_id", String(40), nullable=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("last_seen_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
)
Index("ix_dashboard_logins_expires", dashboard_logins.c.expires_at)
