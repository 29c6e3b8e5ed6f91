"""Queries of the audit log: append under the chain head's lock, read by filter, walk the chain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from sessionhub.storage.dialect import insert_ignore
from sessionhub.storage.schema_audit import audit_chain, audit_log

GENESIS = "0" * 64  # the "previous hash" of the first entry


def ensure_head(conn: Connection, salt: str) -> str:
    """Create the chain head when missing (with ``salt``); return the stored salt."""
    conn.execute(
        insert_ignore(conn, audit_chain).values(id=1, last_seq=0, last_hash=GENESIS, salt=salt)
    )
    return str(conn.execute(select(audit_chain.c.salt).where(audit_chain.c.id == 1)).scalar_one())


def lock_head(conn: Connection, salt: str) -> tuple[int, str]:
    """Lock the chain head until the transaction ends; return (last seq, last hash).

    ``FOR UPDATE`` makes concurrent PostgreSQL writers (tasks or processes) append one at a
    time; SQLite ignores it and needs nothing, having a single writer.
    """
    ensure_head(conn, salt)
    row = conn.execute(
        select(audit_chain.c.last_seq, audit_chain.c.last_hash)
        .where(audit_chain.c.id == 1)
        .with_for_update()
    ).one()
    return int(row.last_seq), str(row.last_hash)


def append(conn: Connection, row: dict[str, Any]) -> None:
    """Insert an entry and move the chain head to it (the caller holds the head's lock)."""
    conn.execute(audit_log.insert().values(**row))
    conn.execute(
        update(audit_chain)
        .where(audit_chain.c.id == 1)
        .values(last_seq=row["seq"], last_hash=row["hash"])
    )


def head(conn: Connection) -> RowMapping | None:
    return conn.execute(select(audit_chain).where(audit_chain.c.id == 1)).mappings().first()


def list_entries(
    conn: Connection,
    *,
    app_id: str | None,
    actor: str | None,
    action: str | None,
    since: int | None,
    until: int | None,
    before_seq: int | None,
    limit: int,
) -> list[RowMapping]:
    """Entries matching the filters, newest first, ``limit`` of them before ``before_seq``."""
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if app_id is not None:
        query = query.where(audit_log.c.app_id == app_id)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        # "key." matches every key action; an exact name matches itself.
        if action.endswith("."):
            query = query.where(audit_log.c.action.startswith(action, autoescape=True))
        else:
            query = query.where(audit_log.c.action == action)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    if before_seq is not None:
        query = query.where(audit_log.c.seq < before_seq)
    return list(conn.execute(query).mappings())


def walk(conn: Connection, after_seq: int, batch: int) -> list[RowMapping]:
    """The next ``batch`` entries after ``after_seq``, oldest first (for ``verify``)."""
    return list(
        conn.execute(
            select(audit_log)
            .where(audit_log.c.seq > after_seq)
            .order_by(audit_log.c.seq)
            .limit(batch)
        ).mappings()
    )


def iter_all(conn: Connection, batch: int = 5000) -> Iterator[RowMapping]:
    after = 0
    while True:
        rows = walk(conn, after, batch)
        if not rows:
            return
        yield from rows
        after = int(rows[-1]["seq"])
