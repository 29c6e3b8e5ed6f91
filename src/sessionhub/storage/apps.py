"""Queries for apps and their API keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, func, insert, or_, select, update

from sessionhub.storage.prepared import Prepared, Row, single_statement
from sessionhub.storage.schema import api_keys, apps


def insert_app(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(apps), row)


def get_app(conn: Connection, app_id: str) -> RowMapping | None:
    return conn.execute(select(apps).where(apps.c.id == app_id)).mappings().first()


def list_apps(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(apps).order_by(apps.c.created_at, apps.c.id)).mappings())


def count_apps(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(apps)).scalar_one())


def update_app(conn: Connection, app_id: str, values: dict[str, Any]) -> int:
    return conn.execute(update(apps).where(apps.c.id == app_id).values(**values)).rowcount


def delete_app(conn: Connection, app_id: str) -> int:
    conn.execute(delete(api_keys).where(api_keys.c.app_id == app_id))
    return conn.execute(delete(apps).where(apps.c.id == app_id)).rowcount


def insert_key(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(api_keys), row)


# Every authenticated request runs this one: compiled once (see storage/prepared.py).
_KEY_BY_HASH = Prepared(select(api_keys).where(api_keys.c.token_hash == bindparam("p_hash")))


@single_statement
def key_by_hash(conn: Connection, token_hash: str) -> Row | None:
    return _KEY_BY_HASH.first(conn, {"p_hash": token_hash})


def get_key(conn: Connection, key_id: str) -> RowMapping | None:
    return conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()


def list_keys(
    conn: Connection, app_id: str | None, include_revoked: bool, now: int
) -> list[RowMapping]:
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if app_id is not None:
        query = query.where(api_keys.c.app_id == app_id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None)).where(
            or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now)
        )
    return list(conn.execute(query).mappings())


def set_key_times(conn: Connection, key_id: str, values: dict[str, int | None]) -> int:
    return conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values)).rowcount
