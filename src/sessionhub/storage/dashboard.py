"""Queries for dashboard sign-ins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from sessionhub.storage.schema_dashboard import dashboard_logins as logins


def insert_login(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(logins), row)


def get_login(conn: Connection, login_id: str, now: int) -> RowMapping | None:
    query = select(logins).where(logins.c.id == login_id, logins.c.expires_at > now)
    return conn.execute(query).mappings().first()


def update_login(conn: Connection, login_id: str, values: dict[str, Any]) -> int:
    return conn.execute(update(logins).where(logins.c.id == login_id).values(**values)).rowcount


def delete_login(conn: Connection, login_id: str) -> int:
    return conn.execute(delete(logins).where(logins.c.id == login_id)).rowcount


def delete_expired(conn: Connection, now: int) -> int:
    return conn.execute(delete(logins).where(logins.c.expires_at <= now)).rowcount
