"""Alembic environment: runs migrations on SQLite (sync) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from sessionhub.storage.database import sqlite_engine
from sessionhub.storage.schema import metadata
from sessionhub.storage.schema_work import include_object

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""


def _run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


if url.startswith("sqlite"):
    with sqlite_engine(url).connect() as connection:
        _run(connection)
else:
    asyncio.run(_run_async())
