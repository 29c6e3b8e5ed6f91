"""The tables of personalization: profiles, segments, experiments and federation grants.

On the shared metadata of storage/schema.py; migration 0010 creates exactly these.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table

from sessionhub.storage.schema import Json, Millis, metadata

# Per-app personalization settings (half-life, item property, computed traits …) as one
# JSON document: no row means the defaults.
personalization_settings = Table(
    "personalization_settings",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("config", Json, nullable=False),
    Column("updated_at", Millis, nullable=False),
)

# One profile per user, and per anonymous device until it is identified (then merged into
# the user's and removed). Kept up to date by event ingestion, batch by batch: the counters
# and the decayed affinity vector (``vector`` holds scores as of ``vector_at``; reads decay
# them to now).
profiles = Table(
    "profiles",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("kind", String(10), primary_key=True),  # user | device
    Column("subject_id", String(200), primary_key=True),
    Column("first_seen", Millis, nullable=False),
    Column("last_seen", Millis, nullable=False),
    # When activity came back after a long gap (for the ``resurrecting`` lifecycle state).
    Column("resurrected_at", Millis, nullable=True),
    Column("events", Integer, nullable=False),
    Column("sessions", Integer, nullable=False),
    Column("last_session_sid", Millis, nullable=False),
    Column("active_days", Integer, nullable=False),
    Column("last_day", Integer, nullable=False),
    Column("devices", Json, nullable=False),
    Column("traits", Json, nullable=False),
    Column("counts", Json, nullable=False),  # events by name
    Column("vector", Json, nullable=False),  # dimension -> score at vector_at
    Column("vector_at", Millis, nullable=False),
    Column("top_events", Json, nullable=False),  # dimension -> the latest events behind it
    Column("updated_at", Millis, nullable=False),
)
Index("ix_profiles_last_seen", profiles.c.app_id, profiles.c.kind, profiles.c.last_seen)

segments = Table(
    "segments",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(10), nullable=False),  # rules | static
    Column("rules", Json, nullable=True),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
)

# The users of static segments.
segment_members = Table(
    "segment_members",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("segment_key", String(100), primary_key=True),
    Column("user_id", String(200), primary_key=True),
)

# The size of each segment per day (app timezone), taken by the worker.
segment_snapshots = Table(
    "segment_snapshots",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("segment_key", String(100), primary_key=True),
    Column("day", Integer, primary_key=True, autoincrement=False),
    Column("members", Integer, nullable=False),
    Column("taken_at", Millis, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(10), nullable=False),  # draft | running | stopped
    Column("unit", String(10), nullable=False),  # user | device | session
    Column("variants", Json, nullable=False),
    Column("coverage", Float, nullable=False),
    Column("targeting", Json, nullable=False),
    Column("namespace", String(100), nullable=True),
    Column("namespace_start", Float, nullable=False),
    Column("namespace_end", Float, nullable=False),
    Column("goal", Json, nullable=False),
    Column("min_sample", Integer, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Column("started_at", Millis, nullable=True),
    Column("stopped_at", Millis, nullable=True),
)

# The sticky assignment of a unit, written at its first exposure: one row per unit and
# experiment (so an exposure is logged once per unit and variant).
experiment_exposures = Table(
    "experiment_exposures",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("experiment_key", String(100), primary_key=True),
    Column("unit_id", String(200), primary_key=True),
    Column("variant", String(100), nullable=False),
    Column("exposed_at", Millis, nullable=False),
)

# App ``owner_app_id`` lets app ``grantee_app_id`` read (and, with write_events, add to) its
# users' sessions, events or profiles.
federation_grants = Table(
    "federation_grants",
    metadata,
    Column("owner_app_id", String(40), primary_key=True),
    Column("grantee_app_id", String(40), primary_key=True),
    Column("scopes", Json, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
)
Index("ix_federation_grants_grantee", federation_grants.c.grantee_app_id)
