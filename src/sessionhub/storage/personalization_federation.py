"""Queries for federation grants between apps."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from sessionhub.storage.schema_personalization import federation_grants

f = federation_grants.c


def put(conn: Connection, owner: str, grantee: str, scopes: list[str], now: int) -> None:
    changed = conn.execute(
        update(federation_grants)
        .where(f.owner_app_id == owner, f.grantee_app_id == grantee)
        .values(scopes=scopes, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(
            insert(federation_grants).values(
                owner_app_id=owner,
                grantee_app_id=grantee,
                scopes=scopes,
                created_at=now,
                updated_at=now,
            )
        )


def remove(conn: Connection, owner: str, grantee: str) -> int:
    query = delete(federation_grants).where(f.owner_app_id == owner, f.grantee_app_id == grantee)
    return int(conn.execute(query).rowcount)


def given(conn: Connection, owner: str) -> list[RowMapping]:
    query = select(federation_grants).where(f.owner_app_id == owner).order_by(f.grantee_app_id)
    return list(conn.execute(query).mappings())


def received(conn: Connection, grantee: str) -> list[RowMapping]:
    query = select(federation_grants).where(f.grantee_app_id == grantee).order_by(f.owner_app_id)
    return list(conn.execute(query).mappings())
