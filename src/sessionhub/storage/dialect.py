"""The few places where SQLite and PostgreSQL need different SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table) -> Any:
    """An INSERT that does nothing when the row's key already exists."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def lock_key(conn: Connection, key: str) -> None:
    """Serialize writers on ``key`` until the transaction ends.

    SQLite needs nothing: its single writer already runs one write at a time. PostgreSQL
    takes a transaction-scoped advisory lock, so the rule holds across API replicas too.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
