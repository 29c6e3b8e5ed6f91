"""The tables of consent and data-subject requests: on the shared metadata of storage/schema.py."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table

from sessionhub.storage.schema import Millis, RowId, messages, metadata

# The current consent of each subject (a device or a user) for each purpose: one row per
# purpose the subject has said something about. No row means the app's consent mode
# decides. ``do_not_sell`` is kept as a purpose too, where ``granted`` means "opted out".
consent_records = Table(
    "consent_records",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("subject_kind", String(10), primary_key=True),  # device | user
    Column("subject_id", String(200), primary_key=True),
    Column("purpose", String(20), primary_key=True),
    Column("granted", Boolean, nullable=False),
    Column("source", String(10), nullable=False),  # api | tracker | gpc
    Column("updated_at", Millis, nullable=False),
)
# The privacy report counts grants and refusals per purpose.
Index(
    "ix_consent_records_purpose",
    consent_records.c.app_id,
    consent_records.c.purpose,
    consent_records.c.granted,
)

# Every consent change, appended and never updated: who (the key or "cli"), what (subject,
# purpose, value), when and how (api, tracker, gpc). Only an erasure of the subject
# removes its rows.
consent_log = Table(
    "consent_log",
    metadata,
    Column("seq", RowId, primary_key=True, autoincrement=True),
    Column("app_id", String(40), nullable=False),
    Column("subject_kind", String(10), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("source", String(10), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", Millis, nullable=False),
)
Index(
    "ix_consent_log_subject",
    consent_log.c.app_id,
    consent_log.c.subject_kind,
    consent_log.c.subject_id,
    consent_log.c.seq,
)

# Data-subject requests served (exports, erasures), for the privacy report: the subject
# only as a salted hash, so an erased subject leaves no id behind.
subject_requests = Table(
    "subject_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("app_id", String(40), nullable=False),
    Column("kind", String(10), nullable=False),  # export | erase
    Column("subject_ref", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("started_at", Millis, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
)
Index("ix_subject_requests_app", subject_requests.c.app_id, subject_requests.c.started_at)

# Retention removes messages by age: without this, each worker round would scan them all.
Index("ix_messages_created", messages.c.created_at)
