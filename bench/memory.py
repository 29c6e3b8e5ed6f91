"""Benchmark conversation memory against its peers; print the figures as one JSON document.

Side by side in one run, each on its own SQLite file: Sessionhub in-process (``Engine``)
and over HTTP (``sessionhub serve`` as a child process, one keep-alive httpx connection),
the OpenAI Agents SDK's ``SQLiteSession`` and Google ADK's ``DatabaseSessionService``.
google-adk lives in its own virtualenv (.venv-adk, made by scripts/bench): when it is not
importable here, its column is measured by this script run there (``--store adk``).

Each store: append ``--messages`` messages one at a time, append them in batches of 100,
read the last 20 ``--reads`` times, and load the full history. Sessionhub in-process also
reads the last 20 at 100, 10,000 and 100,000 messages in the session (it must stay flat).
The full load goes through the adapters' store (``EngineStore.last``: plain records, what
an agent framework's adapter turns into its items, as the peers return theirs).

Wall time on a shared machine swings with the other load, so each store also reports
the CPU time of its process per operation (``cpu_us``), and ``cpu_ratio_to_fastest_peer``
compares those (HTTP: the client's CPU only, the server is another process).

    scripts/bench memory        # or: .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from sessionhub import AsyncClient, Engine, Settings
from sessionhub.adapters.store import EngineStore, HttpStore
from sessionhub.models import MessageIn
from sessionhub.storage.migrate import upgrade

sys.path.insert(0, str(Path(__file__).parent))
# The same child-process server as bench/lifecycle.py.
from lifecycle import server

BATCH = 100
SIZES = (100, 10_000, 100_000)


def content(i: int) -> str:
    return f"Message {i}: which smartphone under 600 euros has the best camera for night shots?"


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


async def timed_cpu(fn: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all its threads) of ``fn``.

    Every phase of every store starts from a collected heap: the stores share this process,
    and a full collection of what an earlier phase left (about 45 ms here, a third of a
    10,000-message batch phase) is then never charged to the phase that happens to trigger it.
    """
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    await fn()
    return time.perf_counter() - started, time.process_time() - cpu


async def measure(
    add_one: Callable[[int], Awaitable[Any]],
    add_batch: Callable[[int], Awaitable[Any]],
    read_last20: Callable[[], Awaitable[Any]],
    load_all: Callable[[], Awaitable[int]],
    messages: int,
    reads: int,
) -> dict[str, Any]:
    """The four figures of one store; batches go to a second session of the same store."""

    async def singles() -> None:
        for i in range(messages):
            await add_one(i)

    async def batches() -> None:
        for start in range(0, messages, BATCH):
            await add_batch(start)

    async def read_many() -> None:
        for _ in range(reads):
            await read_last20()

    loaded = 0

    async def load() -> None:
        nonlocal loaded
        loaded = await load_all()

    single_s, single_cpu = await timed_cpu(singles)
    batch_s, batch_cpu = await timed_cpu(batches)
    read_s, read_cpu = await timed_cpu(read_many)
    full_s, full_cpu = await timed_cpu(load)
    assert loaded == messages, f"loaded {loaded} of {messages}"
    return {
        "append_single_per_s": rate(messages, single_s),
        "append_batch_per_s": rate(messages, batch_s),
        "read_last20_per_s": rate(reads, read_s),
        "full_load_ms": round(full_s * 1000, 2),
        # CPU time of this process per operation: steadier than wall time on a shared
        # machine (a server's own CPU is not in it: see sessionhub_http).
        "cpu_us": {
            "append_single": round(single_cpu / messages * 1e6, 1),
            "append_batch_per_message": round(batch_cpu / messages * 1e6, 1),
            "read_last20": round(read_cpu / reads * 1e6, 1),
            "full_load": round(full_cpu * 1e6, 1),
        },
    }


def messages_from(start: int, count: int) -> list[MessageIn]:
    return [MessageIn(role="user", content=content(i)) for i in range(start, start + count)]


@contextlib.contextmanager
def sessionhub_db() -> Iterator[tuple[str, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="sessionhub-bench-memory-"))
    url = f"sqlite:///{folder / 'sessionhub.db'}"
    try:
        upgrade(url)
        yield url, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def bench_inprocess(messages: int, reads: int) -> tuple[dict[str, Any], dict[str, float]]:
    with sessionhub_db() as (url, folder):
        settings = Settings(database_url=url, data_dir=folder, run_worker=False)
        async with Engine(settings) as engine:
            app_id = (await engine.apps.create("bench")).id
            store = EngineStore(engine, app_id)
            memory = engine.memory

            async def add_one(i: int) -> None:
                await memory.add(app_id, "single", messages_from(i, 1)[0], create=True)

            async def add_batch(start: int) -> None:
                await memory.append(app_id, "batch", messages_from(start, BATCH), create=True)

            async def read_last20() -> None:
                await memory.last(app_id, "single", 20)

            async def load_all() -> int:
                return len(await store.last("single", None))

            figures = await measure(add_one, add_batch, read_last20, load_all, messages, reads)
            by_size: dict[str, float] = {}
            by_size_cpu: dict[str, float] = {}
            for size in SIZES:
                sid = f"size-{size}"
                for start in range(0, size, 1000):
                    chunk = messages_from(start, min(1000, size - start))
                    await memory.append(app_id, sid, chunk, create=True)

                async def read_sized(sid: str = sid) -> None:
                    for _ in range(reads):
                        await memory.last(app_id, sid, 20)

                wall, cpu = await timed_cpu(read_sized)
                by_size[str(size)] = rate(reads, wall)
                by_size_cpu[str(size)] = round(cpu / reads * 1e6, 1)
            figures["read_last20_by_size_cpu_us"] = by_size_cpu
            return figures, by_size


async def bench_http(messages: int, reads: int, port: int) -> dict[str, Any]:
    with sessionhub_db() as (url, folder):
        settings = Settings(database_url=url, data_dir=folder, run_worker=False)
        async with Engine(settings) as engine:
            app = await engine.apps.create("bench")
            token = (await engine.keys.issue("secret", app.id, "bench")).token
        with server(url, folder, port):
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                store = HttpStore(base, token, client=AsyncClient(base, key=token, timeout=30))

                async def add_one(i: int) -> None:
                    body = orjson.dumps({"role": "user", "content": content(i)})
                    r = await client.post(
                        "/v1/sessions/single/messages", content=body, headers=headers
                    )
                    r.raise_for_status()

                async def add_batch(start: int) -> None:
                    batch = [
                        {"role": "user", "content": content(i)} for i in range(start, start + BATCH)
                    ]
                    body = orjson.dumps({"messages": batch})
                    r = await client.post(
                        "/v1/sessions/batch/messages/batch", content=body, headers=headers
                    )
                    r.raise_for_status()

                async def read_last20() -> None:
                    r = await client.get("/v1/sessions/single/messages?limit=20", headers=headers)
                    r.raise_for_status()

                async def load_all() -> int:
                    return len(await store.last("single", None))

                return await measure(add_one, add_batch, read_last20, load_all, messages, reads)


async def bench_openai_agents(messages: int, reads: int) -> dict[str, Any]:
    try:
        from agents import SQLiteSession
    except ImportError:
        return {"skipped": "openai-agents is not installed: pip install 'sessionhub[agents]'"}
    folder = Path(tempfile.mkdtemp(prefix="agents-bench-"))
    single = SQLiteSession("single", folder / "agents.db")
    batched = SQLiteSession("batch", folder / "agents.db")

    async def add_one(i: int) -> None:
        await single.add_items([{"role": "user", "content": content(i)}])

    async def add_batch(start: int) -> None:
        items: list[Any] = [
            {"role": "user", "content": content(i)} for i in range(start, start + BATCH)
        ]
        await batched.add_items(items)

    async def read_last20() -> None:
        await single.get_items(limit=20)

    async def load_all() -> int:
        return len(await single.get_items())

    try:
        return await measure(add_one, add_batch, read_last20, load_all, messages, reads)
    finally:
        single.close()
        batched.close()
        shutil.rmtree(folder, ignore_errors=True)


ADK_PYTHON = Path(__file__).resolve().parent.parent / ".venv-adk" / "bin" / "python"


def bench_adk_elsewhere(messages: int, reads: int) -> dict[str, Any]:
    """The ADK column, measured by this script in .venv-adk (google-adk is not installed here)."""
    if not ADK_PYTHON.exists():
        return {"skipped": "google-adk is not installed: scripts/bench makes .venv-adk"}
    command = [str(ADK_PYTHON), __file__, "--store", "adk"]
    command += ["--messages", str(messages), "--reads", str(reads)]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        return {"skipped": f"the run in .venv-adk failed: {done.stderr.decode()[-500:]}"}
    figures: dict[str, Any] = orjson.loads(done.stdout)
    return figures


async def bench_adk(messages: int, reads: int) -> dict[str, Any]:
    try:
        from google.adk.events import Event
        from google.adk.sessions import DatabaseSessionService
        from google.genai import types
    except ImportError:
        return bench_adk_elsewhere(messages, reads)
    folder = Path(tempfile.mkdtemp(prefix="adk-bench-"))
    service = DatabaseSessionService(db_url=f"sqlite+aiosqlite:///{folder / 'adk.db'}")
    single = await service.create_session(app_name="bench", user_id="u", session_id="single")
    batched = await service.create_session(app_name="bench", user_id="u", session_id="batch")

    def event(i: int) -> Any:
        text = types.Content(role="user", parts=[types.Part(text=content(i))])
        return Event(author="user", invocation_id=f"inv-{i}", content=text)

    async def add_one(i: int) -> None:
        await service.append_event(single, event(i))

    async def add_batch(start: int) -> None:
        # ADK has no batch append: a batch is its events appended one after another.
        for i in range(start, start + BATCH):
            await service.append_event(batched, event(i))

    async def read_last20() -> None:
        from google.adk.sessions.base_session_service import GetSessionConfig

        await service.get_session(
            app_name="bench",
            user_id="u",
            session_id="single",
            config=GetSessionConfig(num_recent_events=20),
        )

    async def load_all() -> int:
        found = await service.get_session(app_name="bench", user_id="u", session_id="single")
        return len(found.events) if found is not None else 0

    try:
        return await measure(add_one, add_batch, read_last20, load_all, messages, reads)
    finally:
        await service.close()
        shutil.rmtree(folder, ignore_errors=True)


def with_ratios(stores: dict[str, dict[str, Any]]) -> None:
    """Add each figure's ratio to the fastest peer (higher is better, but lower for load ms)."""
    peers = [v for k, v in stores.items() if not k.startswith("sessionhub") and "skipped" not in v]
    if not peers:
        return
    for name, figures in stores.items():
        if not name.startswith("sessionhub"):
            continue
        ratios: dict[str, float] = {}
        for key in ("append_single_per_s", "append_batch_per_s", "read_last20_per_s"):
            best = max(peer[key] for peer in peers)
            ratios[key] = round(figures[key] / best, 2) if best else 0.0
        fastest_load = min(peer["full_load_ms"] for peer in peers)
        ratios["full_load_ms"] = round(fastest_load / figures["full_load_ms"], 2)
        figures["ratio_to_fastest_peer"] = ratios
        cpu_ratios: dict[str, float] = {}
        for key, ours in figures["cpu_us"].items():
            least = min(peer["cpu_us"][key] for peer in peers)
            cpu_ratios[key] = round(least / ours, 2) if ours else 0.0
        figures["cpu_ratio_to_fastest_peer"] = cpu_ratios


async def run(options: argparse.Namespace) -> dict[str, Any]:
    messages, reads = options.messages, options.reads
    inproc, by_size = await bench_inprocess(messages, reads)
    stores: dict[str, dict[str, Any]] = {
        "sessionhub_inproc": inproc,
        "sessionhub_http": await bench_http(messages, reads, options.port),
        "openai_agents_sqlite": await bench_openai_agents(messages, reads),
        "adk_database": await bench_adk(messages, reads),
    }
    with_ratios(stores)
    return {
        **stores,
        "read_last20_by_size": by_size,
        "messages": messages,
        "reads": reads,
        "backend": "sqlite (one file per store)",
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages per append phase")
    parser.add_argument("--reads", type=int, default=1_000, help="reads of the last 20")
    parser.add_argument("--port", type=int, default=8766, help="port for the server under test")
    parser.add_argument(
        "--store", choices=["all", "adk"], default="all", help="adk: only Google ADK's figures"
    )
    options = parser.parse_args(argv)
    if options.store == "adk":
        figures = asyncio.run(bench_adk(options.messages, options.reads))
    else:
        figures = asyncio.run(run(options))
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
