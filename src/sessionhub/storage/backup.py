"""Backup and restore of an SQLite database with SQLite's online backup API.

The backup reads the live database in one step, inside one read transaction: in WAL mode
that never blocks a writer (the server keeps serving) and sees one consistent state, the
last commit before it began. Restore copies a backup into the database file the same way,
after checking the file is a Sessionhub database. PostgreSQL has its own tools, pg_dump
and pg_restore (docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from sessionhub.errors import InvalidInput, StorageError


def sqlite_path(url: str) -> Path:
    """The file of an SQLite database URL; anything else is refused naming the way to go."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        raise InvalidInput(
            "backup and restore work on SQLite; for PostgreSQL use pg_dump and pg_restore"
            " (see docs/deployment.md).",
            details={"field": "database_url"},
        )
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInput("An in-memory database has no file to back up.")
    return Path(parsed.database)


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # pages=-1 (all at once): one read transaction, so the copy is one consistent state
    # even while other connections commit (copying in steps would restart on each write).
    source.backup(target, pages=-1)


def backup(url: str, target: Path) -> int:
    """Copy the database at ``url`` to ``target`` (replaced if it exists); its size in bytes."""
    path = sqlite_path(url)
    if not path.exists():
        raise InvalidInput(f"No database file at {path}.", details={"field": "database_url"})
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(path)) as source,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            _copy(source, copy)
            # A single self-contained file: no -wal beside it to lose on the way.
            copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"The backup failed: {exc}") from exc
    partial.replace(target)  # only a complete backup ever carries the target's name
    return target.stat().st_size


def check_backup(source: Path) -> str:
    """The schema revision of the backup at ``source``; 422 when it is not a Sessionhub one."""
    if not source.is_file():
        raise InvalidInput(f"No backup file at {source}.", details={"field": "file"})
    try:
        uri = f"file:{source}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        raise InvalidInput(
            f"{source} is not a Sessionhub backup: {exc}.", details={"field": "file"}
        ) from exc
    if ok is None or ok[0] != "ok" or row is None:
        raise InvalidInput(
            f"{source} is damaged or not a Sessionhub backup.", details={"field": "file"}
        )
    return str(row[0])


def restore(url: str, source: Path) -> str:
    """Replace the database at ``url`` with the backup at ``source``; the backup's revision.

    Run it with the server stopped: connections open across a restore see the old data.
    """
    revision = check_backup(source)
    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as saved,
            contextlib.closing(sqlite3.connect(path, timeout=30)) as live,
        ):
            _copy(saved, live)
            live.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise StorageError(f"The restore failed: {exc}") from exc
    return revision
