"""Leases: a row per job that one worker at a time may hold, claimed by a conditional write."""

from __future__ import annotations

from sqlalchemy import Connection, and_, or_, update

from sessionhub.storage.dialect import insert_ignore
from sessionhub.storage.schema import leases


def claim(conn: Connection, name: str, holder: str, now: int, ttl_ms: int) -> bool:
    """Take or renew the lease ``name`` for ``holder``; False when another holds it."""
    conn.execute(insert_ignore(conn, leases).values(name=name, holder=holder, expires_at=0))
    claimed = conn.execute(
        update(leases)
        .where(
            and_(leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at <= now))
        )
        .values(holder=holder, expires_at=now + ttl_ms)
    ).rowcount
    return claimed == 1


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute(
        update(leases)
        .where(and_(leases.c.name == name, leases.c.holder == holder))
        .values(expires_at=0)
    )
