"""The group-commit writer under failure: reruns of a batch, a foreign write lock, dropped connections."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from sessionhub import Engine, InvalidInput
from sessionhub.storage import database
from sessionhub.storage.prepared import sqlite_insert
from sessionhub.storage.schema import leases


def _add_lease(conn: Connection, name: str) -> str:
    conn.execute(insert(leases).values(name=name, holder="test", expires_at=0))
    return name


def _add_lease_then_fail(conn: Connection, name: str) -> None:
    conn.execute(insert(leases).values(name=name, holder="test", expires_at=0))
    raise InvalidInput(f"refused {name}")


def _lease_names(conn: Connection) -> list[str]:
    return sorted(conn.execute(select(leases.c.name)).scalars())


async def test_several_failing_writes_in_one_batch_each_fail_alone(engine: Engine) -> None:
    """Two writes that fail in one batch leave no trace, and the three around them commit."""
    results = await asyncio.gather(
        engine.db.write(_add_lease, "a"),
        engine.db.write(_add_lease_then_fail, "x"),
        engine.db.write(_add_lease, "b"),
        engine.db.write(_add_lease_then_fail, "y"),
        engine.db.write(_add_lease, "c"),
        return_exceptions=True,
    )
    assert ["a", InvalidInput, "b", InvalidInput, "c"] == [
        type(r) if isinstance(r, Exception) else r for r in results
    ]
    assert ["a", "b", "c"] == await engine.db.read(_lease_names)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_write_waits_for_another_process_holding_the_sqlite_lock(engine: Engine) -> None:
    """While another connection holds SQLite's write lock, writes wait off the loop, then commit."""
    other = sqlite3.connect(str(make_url(engine.db.url).database), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        writes = asyncio.gather(*(engine.db.write(_add_lease, f"w{i}") for i in range(3)))
        await asyncio.sleep(0.2)  # the loop keeps running meanwhile
        assert (False, []) == (writes.done(), await engine.db.read(_lease_names))
        other.execute("COMMIT")
        assert ["w0", "w1", "w2"] == await asyncio.wait_for(writes, 10)
    finally:
        other.close()
    assert ["w0", "w1", "w2"] == await engine.db.read(_lease_names)


def _make_scratch(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    for row in range(32):
        conn.exec_driver_sql("INSERT INTO scratch (id, body) VALUES (?, '')", (row,))


def _rewrite_scratch(conn: Connection, row: int, body: str) -> None:
    conn.exec_driver_sql("UPDATE scratch SET body = ? WHERE id = ?", (body, row))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_sqlite_log_starts_afresh_under_steady_writes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints catch up with a steady stream of writes, so the WAL does not grow for ever.

    Checkpoints beside the writes never caught up with them: the log kept every frame ever
    written (30 MB per 15,000 validations).
    """
    monkeypatch.setattr(database, "SQLITE_CHECKPOINT_EVERY_S", 0.0)
    await engine.db.write(_make_scratch)

    async def writer(row: int) -> None:
        for i in range(150):
            await engine.db.write(_rewrite_scratch, row, f"{i:04}" * 500)

    await asyncio.gather(*(writer(row) for row in range(32)))  # 4,800 writes, in batches
    if engine.db._checkpoint is not None:  # let the last checkpoint finish
        await engine.db._checkpoint
    probe = sqlite3.connect(str(make_url(engine.db.url).database), isolation_level=None)
    try:
        busy, log_frames, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        probe.close()
    # Without catching up, the log held every frame of the run (2,406 here; 16 to 32 with).
    assert (0, True) == (busy, log_frames < 500), log_frames


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_connections_the_server_dropped_are_replaced(engine: Engine) -> None:
    """After PostgreSQL ends every connection of the process, reads and writes still succeed."""
    import asyncpg

    await asyncio.gather(*(engine.db.write(_add_lease, f"before{i}") for i in range(8)))
    url = make_url(engine.db.url).set(drivername="postgresql").render_as_string(False)
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    await asyncio.sleep(0.1)
    after = await asyncio.gather(*(engine.db.write(_add_lease, f"after{i}") for i in range(8)))
    assert [f"after{i}" for i in range(8)] == after
    assert 16 == len(await engine.db.read(_lease_names))


@pytest.mark.parametrize("count", [1, 63, 64, 100, 1000])
def test_sqlite_bulk_inserts_keep_the_order_of_their_rows(tmp_path: Path, count: int) -> None:
    """Rows inserted many per statement get rowids in the order given, across every chunk."""
    conn = database.sqlite_engine(f"sqlite:///{tmp_path / 'bulk.db'}").connect()
    with conn.begin():
        conn.exec_driver_sql("CREATE TABLE t (seq INTEGER PRIMARY KEY, name TEXT UNIQUE, n INT)")
    with conn.begin():
        sqlite_insert(conn, "t", ("name", "n"), [(f"r{i}", i) for i in range(count)])
    with conn.begin():
        rows = conn.exec_driver_sql("SELECT seq, name, n FROM t ORDER BY seq").all()
    assert [(i + 1, f"r{i}", i) for i in range(count)] == [tuple(row) for row in rows]


def test_a_conflict_in_a_sqlite_bulk_insert_is_an_integrity_error(tmp_path: Path) -> None:
    """A duplicate in any chunk raises SQLAlchemy's IntegrityError (a 409 to the caller)."""
    conn = database.sqlite_engine(f"sqlite:///{tmp_path / 'bulk.db'}").connect()
    with conn.begin():
        conn.exec_driver_sql("CREATE TABLE t (seq INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    rows = [(f"r{i}",) for i in range(70)] + [("r3",)]
    with pytest.raises(IntegrityError), conn.begin():
        sqlite_insert(conn, "t", ("name",), rows)
    with conn.begin():
        assert 0 == conn.exec_driver_sql("SELECT count(*) FROM t").scalar()


def test_none_and_bools_bind_as_before_without_the_adapter_search(tmp_path: Path) -> None:
    """An SQLite engine registers adapters for None and bool that bind NULL and 0/1, as the
    driver's own search did."""
    conn = database.sqlite_engine(f"sqlite:///{tmp_path / 'bind.db'}").connect()
    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    assert (bool, sqlite3.PrepareProtocol) in sqlite3.adapters
    with conn.begin():
        conn.exec_driver_sql("CREATE TABLE t (a, b, c)")
        sqlite_insert(conn, "t", ("a", "b", "c"), [(None, True, False)])
        row = conn.exec_driver_sql("SELECT a, typeof(a), b, typeof(b), c FROM t").one()
    assert (None, "null", 1, "integer", 0) == tuple(row)


def test_an_adapter_the_host_program_registered_is_kept(tmp_path: Path) -> None:
    """A program embedding the engine that adapts bools its own way keeps its adapter."""
    key = (bool, sqlite3.PrepareProtocol)
    before = sqlite3.adapters.pop(key, None)
    sqlite3.register_adapter(bool, lambda value: "yes" if value else "no")
    try:
        conn = database.sqlite_engine(f"sqlite:///{tmp_path / 'host.db'}").connect()
        with conn.begin():
            conn.exec_driver_sql("CREATE TABLE t (b)")
            sqlite_insert(conn, "t", ("b",), [(True,)])
            assert "yes" == conn.exec_driver_sql("SELECT b FROM t").scalar()
    finally:
        sqlite3.adapters.pop(key, None)
        if before is not None:
            sqlite3.adapters[key] = before
