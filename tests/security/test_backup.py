"""`sessionhub backup` and `restore`: a consistent SQLite copy taken while writes go on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sessionhub import Engine, InvalidInput, Settings
from sessionhub.cli import cli
from sessionhub.models import SessionCreate
from sessionhub.storage import backup


async def _count_sessions(engine: Engine, app_id: str) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        page = await engine.sessions.list(app_id, limit=500, cursor=cursor)
        ids.update(s.id for s in page.items)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_a_backup_taken_during_writes_restores_everything_committed_before_it(
    tmp_path: Path,
) -> None:
    """Writes keep committing during the backup; the restored copy has every session committed before it began, a sound file and an intact audit chain."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = await Engine(Settings(database_url=url, data_dir=tmp_path)).start()
    app = await engine.apps.create("shop")
    for i in range(300):
        await engine.sessions.create(app.id, SessionCreate(id=f"before-{i}", user_id=f"u{i % 7}"))
    committed_before = await _count_sessions(engine, app.id)
    stop = asyncio.Event()
    written_during = 0

    async def keep_writing() -> None:
        nonlocal written_during
        while not stop.is_set():
            await engine.sessions.create(app.id, SessionCreate(id=f"during-{written_during}"))
            await engine.audit.record(app_id=app.id, actor="test", action="test.write")
            written_during += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_writing())
    await asyncio.sleep(0.05)
    target = tmp_path / "copy.db"
    await asyncio.to_thread(backup.backup, url, target)
    await asyncio.sleep(0.05)
    stop.set()
    await writer
    await engine.close()

    restored_url = f"sqlite:///{tmp_path / 'restored' / 'sessionhub.db'}"
    backup.restore(restored_url, target)
    restored = await Engine(Settings(database_url=restored_url, data_dir=tmp_path)).start()
    try:
        found = await _count_sessions(restored, app.id)
        check = await restored.audit.verify()
    finally:
        await restored.close()
    with sqlite3.connect(tmp_path / "restored" / "sessionhub.db") as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert written_during > 0
    assert committed_before <= found
    assert len(found) < len(committed_before) + written_during + 1
    assert (True, "ok") == (check.ok, integrity)


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    """Restoring from a file that is not a Sessionhub database is refused before anything is replaced."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(InvalidInput):
        backup.restore(f"sqlite:///{tmp_path / 'x.db'}", junk)
    assert not (tmp_path / "x.db").exists()


def test_cli_backup_and_restore_round_trip(tmp_path: Path) -> None:
    """`sessionhub backup FILE` then `sessionhub restore FILE --yes` on another database brings the apps back."""
    live = f"sqlite:///{tmp_path / 'live.db'}"
    other = f"sqlite:///{tmp_path / 'other.db'}"
    runner = CliRunner()
    created = runner.invoke(cli, ["--database-url", live, "apps", "create", "shop", "--json"])
    saved = runner.invoke(cli, ["--database-url", live, "backup", str(tmp_path / "b.db")])
    back = runner.invoke(cli, ["--database-url", other, "restore", str(tmp_path / "b.db"), "--yes"])
    listed = runner.invoke(cli, ["--database-url", other, "apps", "list"])
    assert (0, 0, 0, 0) == (created.exit_code, saved.exit_code, back.exit_code, listed.exit_code)
    assert "shop" in listed.stdout
    assert saved.stdout.startswith("backed up ")


def test_cli_backup_of_postgresql_points_at_pg_dump(database_url: str, tmp_path: Path) -> None:
    """On PostgreSQL `backup` exits 2 and names pg_dump; on SQLite it writes the file."""
    result = CliRunner().invoke(
        cli, ["--database-url", database_url, "backup", str(tmp_path / "b.db")]
    )
    if database_url.startswith("postgresql"):
        assert (2, True) == (result.exit_code, "pg_dump" in result.stderr)
    else:
        assert (0, True) == (result.exit_code, (tmp_path / "b.db").is_file())
