"""Durability: a server killed with SIGKILL under ingest load loses no acknowledged event.

The server runs as a real child process. Senders post batches of events with client ids
and remember each batch the server acknowledged with a 2xx. At a random moment the
server is killed with SIGKILL, then started again on the same database: every
acknowledged event must be there, none twice, and the SQLite file must pass
``PRAGMA integrity_check``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, text

from sessionhub import Engine, Settings
from tests.servers import free_port

SENDERS = 8
BATCH = 20


def _start_server(database_url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SESSIONHUB_DATABASE_URL": database_url,
        "SESSIONHUB_DATA_DIR": str(data_dir),
        "SESSIONHUB_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "sessionhub.cli", "serve", "--port", str(port), "--no-worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"server exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server did not become ready in 30 s")


async def _setup(database_url: str) -> tuple[str, str]:
    async with Engine(Settings(database_url=database_url)) as engine:
        app = await engine.apps.create("crash")
        key = await engine.keys.issue("publishable", app.id)
        return app.id, key.token


async def _load(base: str, key: str, acked: list[list[str]], stop: asyncio.Event) -> None:
    """Post batches until the server dies or ``stop`` is set; record acknowledged batches."""
    headers = {"Authorization": f"Bearer {key}"}

    async def sender(number: int) -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
            while not stop.is_set():
                ids = [str(uuid.uuid4()) for _ in range(BATCH)]
                batch = [
                    {
                        "id": i,
                        "device_id": f"device-{number}",
                        "type": "page_view",
                        "path": f"/p/{n}",
                    }
                    for n, i in enumerate(ids)
                ]
                try:
                    response = await client.post("/v1/events", json={"events": batch})
                except httpx.TransportError:
                    return  # the server is gone: this batch was never acknowledged
                if response.status_code == 200:
                    assert BATCH == response.json()["accepted"] + response.json()["duplicates"]
                    acked.append(ids)

    await asyncio.gather(*(sender(n) for n in range(SENDERS)))


def _stored(conn: Connection, app_id: str) -> dict[str, Any]:
    rows = (
        conn.execute(text("SELECT id FROM events WHERE app_id = :a"), {"a": app_id}).scalars().all()
    )
    page_views = conn.execute(
        text("SELECT COALESCE(SUM(page_views), 0) FROM sessions WHERE app_id = :a"), {"a": app_id}
    ).scalar_one()
    result: dict[str, Any] = {"ids": list(rows), "page_views": int(page_views)}
    if conn.dialect.name == "sqlite":
        result["integrity"] = conn.execute(text("PRAGMA integrity_check")).scalar_one()
    return result


@pytest.mark.slow
def test_acknowledged_events_survive_sigkill(database_url: str, tmp_path: Path) -> None:
    """Every event acknowledged before a SIGKILL is stored exactly once after the restart."""
    app_id, key = asyncio.run(_setup(database_url))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    acked: list[list[str]] = []

    async def run_and_kill() -> None:
        server = _start_server(database_url, tmp_path, port)
        try:
            await _wait_ready(base, server)
            stop = asyncio.Event()
            load = asyncio.create_task(_load(base, key, acked, stop))
            await asyncio.sleep(random.uniform(1.0, 2.5))
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            stop.set()
            await asyncio.wait_for(load, timeout=30)
        finally:
            if server.poll() is None:
                server.kill()

    asyncio.run(run_and_kill())
    assert len(acked) > 5, "the load never got going before the kill"

    async def restart_and_check() -> dict[str, Any]:
        server = _start_server(database_url, tmp_path, port)
        try:
            await _wait_ready(base, server)
            # Resending acknowledged batches after the restart stores nothing new.
            async with httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {key}"}
            ) as client:
                for ids in acked[-3:]:
                    again = [{"id": i, "device_id": "device-0", "type": "page_view"} for i in ids]
                    response = await client.post("/v1/events", json={"events": again})
                    assert (0, BATCH) == (
                        response.json()["accepted"],
                        response.json()["duplicates"],
                    )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
        async with Engine(Settings(database_url=database_url)) as engine:
            return await engine.db.read(_stored, app_id)

    stored = asyncio.run(restart_and_check())
    acked_ids = [i for batch in acked for i in batch]
    assert len(stored["ids"]) == len(set(stored["ids"])), "an event was stored twice"
    assert set() == set(acked_ids) - set(stored["ids"]), "an acknowledged event was lost"
    assert len(stored["ids"]) == stored["page_views"], (
        "session counters disagree with stored events"
    )
    if "integrity" in stored:
        assert "ok" == stored["integrity"]
