"""Storage on each backend: the migrated schema, group-committed writes and their failures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, create_engine, insert, select
from sqlalchemy import Engine as SAEngine
from sqlalchemy.sql import visitors

from sessionhub import Conflict, Engine, FakeClock, InvalidInput, Settings, StorageError
from sessionhub.storage import Database
from sessionhub.storage.events import COUNTER_COLUMNS, existing_keys
from sessionhub.storage.migrate import upgrade
from sessionhub.storage.schema import leases, metadata, sessions
from sessionhub.storage.schema_work import include_object
from sessionhub.storage.sessions import expire_due


def _schema_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_object": include_object}
    )
    return list(compare_metadata(context, metadata))


def _add_lease(conn: Connection, name: str) -> str:
    conn.execute(insert(leases).values(name=name, holder="test", expires_at=0))
    return name


def _add_lease_then_fail(conn: Connection, name: str, error: Exception) -> None:
    conn.execute(insert(leases).values(name=name, holder="test", expires_at=0))
    raise error


def _lease_names(conn: Connection) -> list[str]:
    return sorted(conn.execute(select(leases.c.name)).scalars())


async def test_migrations_build_exactly_the_declared_schema(engine: Engine) -> None:
    """The database the migrations built has every table, column and index schema.py declares, and no more."""
    assert [] == await engine.db.read(_schema_diff)


async def test_a_write_returns_after_its_commit(engine: Engine) -> None:
    """What a write returns is already committed: a read right after sees it."""
    assert "a" == await engine.db.write(_add_lease, "a")
    assert ["a"] == await engine.db.read(_lease_names)


async def test_many_concurrent_writes_all_commit(engine: Engine) -> None:
    """Writes queued together (one group commit or several) each return their own result."""
    names = [f"lease-{i:03}" for i in range(200)]
    results = await asyncio.gather(*(engine.db.write(_add_lease, name) for name in names))
    assert names == list(results)
    assert names == await engine.db.read(_lease_names)


@pytest.mark.parametrize(
    "error", [InvalidInput("nope"), RuntimeError("a bug")], ids=["refused", "bug"]
)
async def test_a_failing_write_leaves_no_trace_and_spoils_no_other(
    engine: Engine, error: Exception
) -> None:
    """A write that fails half-way is rolled back alone; the writes batched with it commit."""
    results = await asyncio.gather(
        engine.db.write(_add_lease, "before"),
        engine.db.write(_add_lease_then_fail, "failed", error),
        engine.db.write(_add_lease, "after"),
        return_exceptions=True,
    )
    assert ["before", error, "after"] == results
    assert ["after", "before"] == await engine.db.read(_lease_names)


async def test_a_write_breaking_a_unique_key_is_a_conflict(engine: Engine) -> None:
    """A duplicate key is reported as 409 conflict, not a driver error, and the first row stays."""
    await engine.db.write(_add_lease, "one")
    with pytest.raises(Conflict):
        await engine.db.write(_add_lease, "one")
    assert ["one"] == await engine.db.read(_lease_names)


async def test_close_finishes_queued_writes(settings: Settings, clock: FakeClock) -> None:
    """Writes queued before close are committed before close returns."""
    engine = await Engine(settings, clock=clock).start(migrate=False)
    pending = [asyncio.ensure_future(engine.db.write(_add_lease, f"q{i}")) for i in range(20)]
    await asyncio.sleep(0)  # let every write reach the queue
    await engine.close()
    await asyncio.gather(*pending)
    reopened = await Engine(settings, clock=clock).start(migrate=False)
    try:
        assert sorted(f"q{i}" for i in range(20)) == await reopened.db.read(_lease_names)
    finally:
        await reopened.close()


async def test_writes_need_a_started_database(database_url: str) -> None:
    """Writing before start (or after close) is a StorageError, not a hang."""
    db = Database(database_url)
    with pytest.raises(StorageError):
        await db.write(_add_lease, "x")
    await db.start()
    await db.close()
    with pytest.raises(StorageError):
        await db.write(_add_lease, "x")


def test_an_unsupported_database_url_is_refused() -> None:
    """Only SQLite and PostgreSQL URLs are accepted, with an error that says which."""
    with pytest.raises(StorageError) as refused:
        Database("mysql://localhost/db")
    assert "sqlite" in refused.value.message


def _upgraded_from(tmp_path: Path, revision: str, rows_sql: str) -> SAEngine:
    """An SQLite file migrated to ``revision``, given rows by ``rows_sql``, then to the head."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(rows_sql)
    upgrade(url)
    return engine


def test_upgrading_keeps_untimed_events_known_by_their_id(tmp_path: Path) -> None:
    """Events stored before keys had a time: those with the server's time stay known by id alone."""
    engine = _upgraded_from(
        tmp_path,
        "0012",
        "INSERT INTO events (app_id, session_sid, id, name, occurred_at, received_at, properties)"
        " VALUES ('app_1', 1, 'untimed', 'x', 1000, 1000, '{}'),"
        " ('app_1', 1, 'timed', 'x', 900, 1000, '{}')",
    )
    with engine.connect() as conn:
        flags = dict(conn.exec_driver_sql("SELECT id, dedupe_by_id FROM events").all())
        found = existing_keys(conn, "app_1", [(900, "timed"), (901, "timed")], ["untimed"])
    engine.dispose()
    assert {"untimed": 1, "timed": 0} == flags
    assert {(900, "timed"), (None, "untimed")} == found


def test_upgrading_schedules_the_workers_look_at_each_idle_limit(tmp_path: Path) -> None:
    """Sessions stored before ``idle_check_at`` get it from their idle limit, so the worker still finds them."""
    engine = _upgraded_from(
        tmp_path,
        "0013",
        "INSERT INTO sessions"
        " (app_id, id, kind, status, started_at, last_activity_at, idle_expires_at, meta)"
        " VALUES ('app_1', 'idle', 'visit', 'active', 0, 1000, 1800, '{}'),"
        " ('app_1', 'work', 'work', 'active', 0, 1000, NULL, '{}')",
    )
    with engine.begin() as conn:
        checks = dict(conn.exec_driver_sql("SELECT id, idle_check_at FROM sessions").all())
        looked_at, ended = expire_due(conn, 2000, 10)
        status = dict(conn.exec_driver_sql("SELECT id, status FROM sessions").all())
    engine.dispose()
    assert {"idle": 1800, "work": None} == checks
    assert (1, 1) == (looked_at, ended)
    assert {"idle": "ended", "work": "active"} == status


def test_no_index_holds_what_a_touch_or_an_event_writes() -> None:
    """Activity rewrites no index entry (SQLite), and stays a HOT update (PostgreSQL)."""
    moving = set(COUNTER_COLUMNS)
    for index in sessions.indexes:
        held = {column.name for column in index.columns}
        for dialect in ("sqlite", "postgresql"):
            where = index.dialect_options[dialect]["where"]
            if where is not None:
                held |= {c.name for c in visitors.iterate(where) if isinstance(c, Column)}
        assert not held & moving, f"{index.name} holds {sorted(held & moving)}"
