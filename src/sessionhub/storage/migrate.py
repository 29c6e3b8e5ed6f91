"""Bring a database's schema up to date with Alembic."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sessionhub.errors import StorageError
from sessionhub.storage.database import normalize_url
from sessionhub.storage.schema_work import include_object

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply every migration up to ``revision`` (safe to run again).

    A database that cannot be reached (or a URL that names none) is a StorageError with
    the driver's reason, not a driver traceback.
    """
    if not normalize_url(url).startswith(("sqlite", "postgresql")):
        raise StorageError(f"Unsupported database URL {url!r}: use sqlite:/// or postgresql://")
    try:
        command.upgrade(alembic_config(url), revision)
    except (SQLAlchemyError, OSError) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise StorageError(
            f"Could not migrate the database: {reason}", details={"db": str(cause)}
        ) from exc


async def upgrade_async(url: str, revision: str = "heads") -> None:
    """``upgrade`` from async code (Alembic's async env runs its own event loop)."""
    await asyncio.to_thread(upgrade, url, revision)


def table_names(conn: Connection) -> list[str]:
    """The tables of the schema that exist, for checks and tests (search indexes left out)."""
    names = inspect(conn).get_table_names()
    return sorted(name for name in names if include_object(None, name, "table", True, None))
