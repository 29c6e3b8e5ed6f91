"""The tables of the audit log and key hygiene: on the shared metadata of storage/schema.py."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from sessionhub.storage.schema import Millis, metadata

# One row per audited action, never updated or deleted. ``seq`` is given by the chain head
# (below), not by the database, so it is gapless and part of what each hash covers; each
# entry holds the hash of the one before it, so an edit, an insertion or a deletion anywhere
# breaks the chain from that entry on. ``details`` is the canonical JSON text that was
# hashed (not a JSON column, whose round trip may change the text).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", Millis, nullable=False),
    Column("app_id", String(40), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target", String(200), nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_app_seq", audit_log.c.app_id, audit_log.c.seq)
Index("ix_audit_log_at", audit_log.c.at)

# The chain's head: a single row (id 1) that every append locks, so concurrent writers
# (PostgreSQL writer tasks and processes) append one at a time, each after the last. It also
# keeps the salt of subject references when no ``audit_salt`` is configured, and lets
# ``verify`` notice entries cut off the end of the log.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("salt", String(64), nullable=False),
)
