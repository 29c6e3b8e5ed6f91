"""Benchmark event ingestion; print the figures as one JSON document.

Measured in one run, per backend, each on a fresh database:
- HTTP batched: ``POST /v1/events`` with batches of 50 at 32 keep-alive connections to a real
  ``sessionhub serve`` child process on 127.0.0.1 (events/s);
- HTTP single: ``POST /v1/sessions/{id}/events`` with one event per request (req/s, p50, p99);
- in-process: ``Engine.events.ingest`` with batches of 50 from 32 tasks (events/s);
  each phase after a warm-up of 100 batches and an ``ANALYZE`` (see ``WARM_UP_BATCHES``);
- the raw ceiling: the same rows inserted by a plain driver ``executemany`` into the same
  events table, 10,000 rows per transaction, with nothing else (rows/s). Each figure is
  also given as a ratio to it.
In process, each batch (and each raw transaction's rows) is made just before it is written,
as an application makes its events, and the time spent making them is left out of the rate
(``inproc_building_events_s`` says how long it was). Over HTTP, the load generator is
another process.
At the end, every acknowledged event is counted in the database: ``acked_events`` must equal
``stored_events``.

    .venv/bin/python bench/ingest.py                    # both backends
    .venv/bin/python bench/ingest.py --backend sqlite   # one
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import uvloop

from sessionhub import Engine
from sessionhub.clock import to_ms
from sessionhub.models import SessionCreate
from sessionhub.storage.database import normalize_url

sys.path.insert(0, str(Path(__file__).parent))
# The lean HTTP client, the child-process server and the database set-up of bench/lifecycle.py.
from lifecycle import (
    DEFAULT_PG_URL,
    Connection,
    Options,
    analyze,
    drive_http,
    fresh_database,
    http_request,
    make_keys,
    percentile_ms,
    server,
    settings_for,
)

BATCH = 50
# Each phase first ingests 100 batches and brings PostgreSQL's statistics up to date, as
# autovacuum would within a minute: on a table just emptied, the dedupe lookup's cached
# plan scanned every event of the app (3,590 events/s in process instead of 21,132, measured
# when events were keyed by id alone).
WARM_UP_BATCHES = 100
SESSIONS = 256
RAW_TX = 10_000


def event(i: int, session_id: str | None = None) -> dict[str, Any]:
    """An event as the browser tracker sends it: a random UUID and the client's time."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "type": "page_view" if i % 4 else "action",
        "path": f"/products/{i % 500}",
        "url": f"https://shop.example/products/{i % 500}",
        "title": "Product",
        "properties": {"product_id": f"p{i % 500}", "price": 19.99},
    }
    if session_id is not None:
        body["session_id"] = session_id
    return body


async def _sessions(engine: Engine, app_id: str, count: int) -> list[str]:
    made = await asyncio.gather(
        *(engine.sessions.create(app_id, SessionCreate()) for _ in range(count))
    )
    return [session.id for session, _ in made]


async def bench_inprocess(url: str, data_dir: Path, total: int, seconds: float) -> dict[str, Any]:
    engine = await Engine(settings_for(url, data_dir)).start(migrate=False)
    try:
        keys = await make_keys(engine)
        sessions = await _sessions(engine, keys.app_id, SESSIONS)
        for b in range(WARM_UP_BATCHES):
            await engine.events.ingest(keys.app_id, [event(i, sessions[b]) for i in range(BATCH)])
        await analyze(url)
        # The engine's start-up objects live through the run: leave them out of full
        # collections, as ``serve`` does.
        gc.collect()
        gc.freeze()
        acked = 0
        building = 0.0
        cursor = iter(range(total // BATCH))
        clock = time.perf_counter
        started = clock()
        deadline = started + seconds

        async def task() -> None:
            nonlocal acked, building
            for b in cursor:
                # Made just before it is ingested, as an app makes its events, and the time
                # spent making it left out. Built up front, the 200,000 events (165 MB) were
                # read back from memory rather than the CPU's caches: 83,000-89,000 events/s
                # against 103,000-106,000 made on the way, measured alternately.
                made = clock()
                batch = [event(i, sessions[b % SESSIONS]) for i in range(BATCH)]
                building += clock() - made
                result = await engine.events.ingest(keys.app_id, batch)
                acked += result.accepted
                if clock() > deadline:
                    return

        # The loop runs one thing at a time: the time spent building is time nothing else ran.
        await asyncio.gather(*(task() for _ in range(32)))
        elapsed = clock() - started - building
        return {
            "inproc_events_per_s": round(acked / elapsed, 1),
            "inproc_events": acked,
            "inproc_seconds": round(elapsed, 2),
            "inproc_building_events_s": round(building, 2),
        }
    finally:
        gc.unfreeze()
        await engine.close()


async def bench_http(
    url: str, data_dir: Path, options: Options, batches: int, singles: int
) -> dict[str, Any]:
    engine = await Engine(settings_for(url, data_dir)).start(migrate=False)
    try:
        keys = await make_keys(engine)
        sessions = await _sessions(engine, keys.app_id, SESSIONS)
    finally:
        await engine.close()
    port = options.port
    acked = 0

    def count(body: bytes) -> None:
        nonlocal acked
        acked += orjson.loads(body)["accepted"]

    with server(url, data_dir, port) as proc:
        loop = asyncio.get_running_loop()
        conns: list[Connection] = []
        for _ in range(options.connections):
            _, conn = await loop.create_connection(Connection, "127.0.0.1", port)
            conns.append(conn)
        try:

            def batch(i: int) -> bytes:
                body = orjson.dumps(
                    {"events": [event(j, sessions[i % SESSIONS]) for j in range(BATCH)]}
                )
                return http_request("POST", "/v1/events", port, keys.publishable, body)

            def single(i: int) -> bytes:
                body = orjson.dumps({"events": [event(i)]})
                sid = sessions[i % SESSIONS]
                return http_request(
                    "POST", f"/v1/sessions/{sid}/events", port, keys.publishable, body
                )

            s = options.seconds
            await drive_http(conns, batch, WARM_UP_BATCHES, s, count)
            await analyze(url)
            batched, batch_statuses = await drive_http(conns, batch, batches, s, count, proc.pid)
            await drive_http(conns, single, 500, s, count)  # warm-up
            singled, single_statuses = await drive_http(conns, single, singles, s, count, proc.pid)
        finally:
            for conn in conns:
                if conn.transport is not None:
                    conn.transport.close()
    stored = await _count_events(url)
    return {
        "http_batch_events_per_s": round(batched.per_s * BATCH, 1),
        "http_batch_p99_ms": percentile_ms(batched.latencies, 99),
        "http_single_rps": singled.per_s,
        "http_single_p50_ms": percentile_ms(singled.latencies, 50),
        "http_single_p99_ms": percentile_ms(singled.latencies, 99),
        "http_server_cpu_us_per_batched_event": round(
            batched.cpu_us_per_op(batched.server_cpu_s) / BATCH, 1
        ),
        "http_server_cpu_us_per_single": singled.cpu_us_per_op(singled.server_cpu_s),
        "http_statuses": {
            "batch": {str(k): v for k, v in sorted(batch_statuses.items())},
            "single": {str(k): v for k, v in sorted(single_statuses.items())},
        },
        "acked_events": acked,
        "stored_events": stored,
    }


async def _count_events(url: str) -> int:
    engine = await Engine(settings_for(url, Path(tempfile.gettempdir()))).start(migrate=False)
    try:
        from sqlalchemy import text

        return await engine.db.read(
            lambda conn: int(conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one())
        )
    finally:
        await engine.close()


def _raw_rows(count: int) -> list[tuple[Any, ...]]:
    now = int(time.time() * 1000)
    rows = []
    for i in range(count):
        e = event(i)
        rows.append(
            (
                "app_raw",
                1,
                e["id"],
                e["type"],
                to_ms(datetime.fromisoformat(e["timestamp"])),
                now,
                e["url"],
                e["path"],
                e["title"],
                None,
                orjson.dumps(e["properties"]).decode(),
                None,
                False,
            )
        )
    return rows


def _raw_transactions(total: int) -> Iterator[list[tuple[Any, ...]]]:
    """``total`` rows, RAW_TX per transaction, each transaction's made just before it is
    written (as the in-process phase makes its batches): the caller times only the write."""
    for start in range(0, total, RAW_TX):
        yield _raw_rows(min(RAW_TX, total - start))


COLUMNS = (
    "app_id, session_sid, id, name, occurred_at, received_at, url, path, title, referrer,"
    " properties, since_prev_ms, dedupe_by_id"
)


def raw_sqlite(url: str, total: int) -> float:
    """Rows/s of plain sqlite3 executemany into the events table, RAW_TX rows per transaction."""
    path = url.split("///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sql = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * 13)})"
    elapsed = 0.0
    for rows in _raw_transactions(total):
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        elapsed += time.perf_counter() - started
    conn.close()
    return total / elapsed


async def raw_postgres(url: str, total: int) -> float:
    """Rows/s of plain asyncpg executemany into the events table, RAW_TX rows per transaction."""
    import asyncpg

    conn = await asyncpg.connect(
        normalize_url(url).replace("postgresql+asyncpg://", "postgresql://")
    )
    sql = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join(f'${i}' for i in range(1, 14))})"
    sql = sql.replace("$11", "$11::jsonb")
    elapsed = 0.0
    for rows in _raw_transactions(total):
        started = time.perf_counter()
        async with conn.transaction():
            await conn.executemany(sql, rows)
        elapsed += time.perf_counter() - started
    await conn.close()
    return total / elapsed


def run_backend(backend: str, options: Options, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="sessionhub-bench-data-") as tmp:
        data_dir = Path(tmp)
        with fresh_database(backend, options) as url:
            if backend == "sqlite":
                raw = raw_sqlite(url, args.raw_rows)
            else:
                raw = uvloop.run(raw_postgres(url, args.raw_rows))
            figures["raw_executemany_rows_per_s"] = round(raw, 1)
        with fresh_database(backend, options) as url:
            figures.update(uvloop.run(bench_inprocess(url, data_dir, args.events, options.seconds)))
        with fresh_database(backend, options) as url:
            figures.update(
                uvloop.run(bench_http(url, data_dir, options, args.batches, args.singles))
            )
    for key in ("http_batch_events_per_s", "inproc_events_per_s", "http_single_rps"):
        figures[f"{key}_ratio_to_raw"] = round(figures[key] / raw, 3) if raw else None
    figures["batch_size"] = BATCH
    figures["connections"] = options.connections
    figures["python"] = platform.python_version()
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--events", type=int, default=200_000, help="in-process events (max)")
    parser.add_argument("--batches", type=int, default=4_000, help="HTTP batches of 50 (max)")
    parser.add_argument(
        "--singles", type=int, default=30_000, help="HTTP single-event requests (max)"
    )
    parser.add_argument("--raw-rows", type=int, default=200_000, help="rows for the raw ceiling")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per phase")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--pg-url", default=os.environ.get("SESSIONHUB_BENCH_PG_URL", DEFAULT_PG_URL)
    )
    args = parser.parse_args(argv)
    options = Options(
        concurrency=32,
        inproc_ops=args.events,
        connections=args.connections,
        http_create_requests=0,
        http_validate_requests=0,
        seconds=args.seconds,
        port=args.port,
        pg_url=args.pg_url,
    )
    results = {
        backend: run_backend(backend, options, args)
        for backend in args.backend or ["sqlite", "postgres"]
    }
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
