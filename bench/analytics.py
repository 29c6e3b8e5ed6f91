"""Benchmark analytics at scale; print the figures as one JSON document.

Generates one app with ``--sessions`` sessions (default 1,000,000) and ten times as many
events on average over 90 days, written straight into the tables (plain tuples,
executemany on SQLite, COPY on PostgreSQL, indexes built once at the end), then brings the
daily rollups up to date as the worker would. The generated database is kept and reused
when it already exists: ``generate_s`` is 0 then, and ``rollups_s`` only checks the days
(the first time it computes them all). ``events`` is how many events the app has. Then it
times, as the p50 of ``--runs`` runs:

- ``overview_ms``: 30 days of sessions, visitors, page views, views per session, bounce
  rate and average duration, with a daily series;
- ``breakdown_source_ms``, ``breakdown_country_ms``, ``breakdown_entry_page_ms``: 30
  days of sessions, bounce rate and average duration by source, country, entry page;
- ``funnel_ms``: a 4-step funnel within sessions over 30 days;
- ``paths_ms``: the next 5 steps after the top page over 30 days;
- ``retention_ms``: weekly retention of users over 12 months.

    .venv/bin/python bench/analytics.py --sessions 100000 --backend sqlite

The full size needs about 3 GB for SQLite (``--data-dir``, default ``data/bench``) and as
much for PostgreSQL (a database of its own, ``sessionhub_bench_v<version>_<sessions>_10``).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from sessionhub import Engine, FakeClock, Settings
from sessionhub.storage.schema import events

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the generated data ends here
VERSION = 3  # of the generated data: a change to ``generate`` makes new databases
MAX_EVENTS = 120  # per session
DAY = 86_400_000
DAYS = 90
PAGES = (
    ["/", "/pricing", "/features", "/blog", "/docs", "/signup", "/checkout", "/about"]
    + [f"/blog/post-{i}" for i in range(150)]
    + [f"/docs/page-{i}" for i in range(50)]
)
PAGE_WEIGHTS = [30, 10, 8, 8, 8, 5, 4, 3] + [0.2] * 150 + [0.3] * 50
SOURCES = [
    ("google", "organic", "google.com"),
    ("direct", "direct", None),
    ("newsletter", "email", None),
    ("twitter.com", "social", "twitter.com"),
    ("news.ycombinator.com", "referral", "news.ycombinator.com"),
    ("bing", "organic", "bing.com"),
    ("chatgpt.com", "ai", "chatgpt.com"),
]
SOURCE_WEIGHTS = [40, 30, 8, 6, 5, 6, 5]
DEVICES = [
    ("desktop", "Chrome", "Windows"),
    ("desktop", "Safari", "Mac OS X"),
    ("mobile", "Mobile Safari", "iOS"),
    ("mobile", "Chrome Mobile", "Android"),
    ("tablet", "Mobile Safari", "iOS"),
]
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "CA", "NL", "ES", "IT", "PL", "SE", "JP", "AU"]
EVENT_TYPES = ["page_view", "action", "error", "conversion", "workflow_start", "workflow_complete"]
EVENT_WEIGHTS = [60, 20, 5, 3, 7, 5]
SESSION_COLUMNS = (
    "sid", "app_id", "id", "kind", "status", "end_reason", "user_id", "device_id",
    "started_at", "last_activity_at", "ended_at", "idle_timeout_ms", "idle_expires_at",
    "expires_at", "meta", "device_type", "browser", "os", "entry_page", "exit_page",
    "utm_campaign", "is_bot", "country", "source", "medium", "referrer_domain", "page_views",
    "event_count", "action_count", "error_count", "conversion_count", "workflow_starts",
    "workflow_completes", "engaged_ms", "last_event_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "app_id", "session_sid", "id", "name", "occurred_at", "received_at", "path",
    "properties",
)  # fmt: skip
FUNNEL = [
    {"page": "/"},
    {"page": "/pricing"},
    {"event": "workflow_start"},
    {"event": "conversion"},
]


def generate(
    app_id: str, sessions: int, events_per_session: int, seed: int = 1
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Chunks of (session rows, event rows) as plain tuples in the columns' order."""
    rng = random.Random(seed)
    users = max(1, sessions // 10)
    devices = max(1, sessions // 3)
    chunk_s: list[tuple[Any, ...]] = []
    chunk_e: list[tuple[Any, ...]] = []
    eid = 0
    empty = "{}"
    # The whole part of an exponential of mean 1 / ln(1 + 1/n) has mean n: ten events per
    # session on average, so 10,000,000 events for 1,000,000 sessions.
    scale = 1 / math.log1p(1 / events_per_session)
    # Sessions are stored in the order they start, as a live app stores them: rows of a
    # date range sit together in the table (random order would make every range scan a
    # random read per session, which no real app's table looks like).
    starts = sorted(NOW - rng.randrange(DAYS * DAY) for _ in range(sessions))
    for sid in range(1, sessions + 1):
        start = starts[sid - 1]
        count = min(MAX_EVENTS, int(rng.expovariate(1 / scale)))
        kinds = rng.choices(EVENT_TYPES, EVENT_WEIGHTS, k=count)
        times = sorted(start + rng.randrange(1, 1_800_000) for _ in range(count))
        paths = rng.choices(PAGES, PAGE_WEIGHTS, k=count)
        counts = dict.fromkeys(EVENT_TYPES, 0)
        first_page = last_page = None
        for kind, at, path in zip(kinds, times, paths, strict=True):
            eid += 1
            counts[kind] += 1
            is_page = kind == "page_view"
            if is_page:
                first_page = first_page or path
                last_page = path
            chunk_e.append((app_id, sid, f"e{eid}", kind, at, at, path if is_page else None, empty))
        last = times[-1] if times else start + rng.choice((0, 3000, 20_000))
        source, medium, referrer = rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
        device_type, browser, os_name = rng.choice(DEVICES)
        chunk_s.append(
            (
                sid,
                app_id,
                f"s{sid}",
                "visit",
                "ended",
                "timeout",
                f"u{rng.randrange(users)}" if rng.random() < 0.4 else None,
                f"d{rng.randrange(devices)}",
                start,
                last,
                last + 1_800_000,
                1_800_000,
                last + 1_800_000,
                start + DAY,
                empty,
                device_type,
                browser,
                os_name,
                first_page or "/",
                last_page,
                rng.choice(("spring", "launch", None, None)),
                rng.random() < 0.02,
                rng.choice(COUNTRIES),
                source,
                medium,
                referrer,
                counts["page_view"],
                count,
                counts["action"],
                counts["error"],
                counts["conversion"],
                counts["workflow_start"],
                counts["workflow_complete"],
                min(last - start, 330_000 * max(1, count)),
                times[-1] if times else None,
            )
        )
        if len(chunk_s) >= 20_000:
            yield chunk_s, chunk_e
            chunk_s, chunk_e = [], []
    if chunk_s:
        yield chunk_s, chunk_e


def fill_sqlite(path: Path, app_id: str, sessions: int, per: int) -> int:
    """Bulk-load the generated rows; how many events. Settings for the load only: no
    journal, no syncs, a large cache, and the indexes built once at the end (much faster
    than row by row); the database is back in WAL mode afterwards."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "journal_mode=OFF",
        "synchronous=OFF",
        "locking_mode=EXCLUSIVE",
        "cache_size=-1000000",
        "temp_store=MEMORY",
    ):
        conn.execute(f"PRAGMA {pragma}")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index'"
        " AND tbl_name IN ('sessions', 'events') AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    s_sql = f"INSERT INTO sessions ({','.join(SESSION_COLUMNS)}) VALUES ({','.join('?' * len(SESSION_COLUMNS))})"
    e_sql = f"INSERT INTO events ({','.join(EVENT_COLUMNS)}) VALUES ({','.join('?' * len(EVENT_COLUMNS))})"
    count = 0
    conn.execute("BEGIN")
    for rows, evs in generate(app_id, sessions, per):
        conn.executemany(s_sql, rows)
        conn.executemany(e_sql, evs)
        count += len(evs)
    conn.execute("COMMIT")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA locking_mode=NORMAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return count


async def fill_postgres(url: str, app_id: str, sessions: int, per: int) -> int:
    """COPY the generated rows in; how many events. The secondary indexes of the two
    tables are dropped first and built once at the end."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        indexes = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " WHERE i.tablename IN ('sessions', 'events') AND i.schemaname = current_schema()"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        count = 0
        for rows, evs in generate(app_id, sessions, per):
            await conn.copy_records_to_table("sessions", records=rows, columns=SESSION_COLUMNS)
            await conn.copy_records_to_table("events", records=evs, columns=EVENT_COLUMNS)
            count += len(evs)
        for row in indexes:
            await conn.execute(row["indexdef"])
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('sessions', 'sid'), (SELECT max(sid) FROM sessions))"
        )
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('events', 'eid'), (SELECT max(eid) FROM events))"
        )
        await conn.execute("VACUUM ANALYZE sessions")
        await conn.execute("VACUUM ANALYZE events")
    finally:
        await conn.close()
    return count


async def prepare(
    url: str, backend: str, sessions: int, per: int
) -> tuple[Engine, str, dict[str, Any]]:
    """An engine on a database holding the generated app (made now, or found), its rollups
    brought up to date as the worker would; what that took."""
    name = f"bench-v{VERSION}-{sessions}-{per}"
    settings = Settings(database_url=url, run_worker=False, app_cache_s=0)
    engine = await Engine(settings, clock=FakeClock(NOW)).start()
    found = [app for app in await engine.apps.list() if app.name == name]
    generate_s = 0.0
    if found:
        app_id = found[0].id
    else:
        started = time.perf_counter()
        # Named only once complete, so an interrupted generation is never mistaken for one.
        app = await engine.apps.create(name + "-partial")
        app_id = app.id
        if backend == "sqlite":
            await engine.close()
            path = Path(url.split("///", 1)[1])
            await asyncio.to_thread(fill_sqlite, path, app_id, sessions, per)
            engine = await Engine(settings, clock=FakeClock(NOW)).start(migrate=False)
        else:
            await fill_postgres(_pg_plain(url), app_id, sessions, per)
        await engine.apps.update(app_id, name=name)
        generate_s = time.perf_counter() - started
    started = time.perf_counter()
    await engine.analytics.refresh_rollups(app_id, full=True)
    rollups_s = time.perf_counter() - started
    events = await engine.db.read(_count_events, app_id, heavy=True)
    return (
        engine,
        app_id,
        {"generate_s": round(generate_s, 1), "rollups_s": round(rollups_s, 1), "events": events},
    )


def _count_events(conn: Connection, app_id: str) -> int:
    return int(conn.execute(select(func.count()).where(events.c.app_id == app_id)).scalar_one())


def _pg_plain(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def p50(fn: Callable[[], Awaitable[Any]], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


async def run(url: str, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    engine, app, made = await prepare(url, backend, args.sessions, args.events_per_session)
    a = engine.analytics
    try:
        last30 = "30d"

        def breakdown(dimension: str) -> Callable[[], Awaitable[Any]]:
            return lambda: a.query(
                app,
                {
                    "metrics": ["sessions", "bounce_rate", "avg_duration"],
                    "dimensions": [dimension],
                    "date_range": last30,
                    "limit": 100,
                },
            )

        overview = {
            "metrics": ["sessions", "visitors", "page_views", "views_per_session",
                        "bounce_rate", "avg_duration"],
            "dimensions": ["time:day"],
            "date_range": last30,
        }  # fmt: skip
        figures: dict[str, Any] = {
            "sessions": args.sessions,
            "events": made["events"],
            "generate_s": made["generate_s"],
            "rollups_s": made["rollups_s"],
            "overview_ms": await p50(lambda: a.query(app, overview), args.runs),
            "breakdown_source_ms": await p50(breakdown("source"), args.runs),
            "breakdown_country_ms": await p50(breakdown("country"), args.runs),
            "breakdown_entry_page_ms": await p50(breakdown("entry_page"), args.runs),
            "funnel_ms": await p50(
                lambda: a.funnel(app, {"steps": FUNNEL, "date_range": last30}), args.runs
            ),
            "paths_ms": await p50(
                lambda: a.paths(app, {"page": "/", "date_range": last30}), args.runs
            ),
            "retention_ms": await p50(
                lambda: a.retention(
                    app, {"by": "users", "period": "week", "periods": 12, "date_range": "12mo"}
                ),
                args.runs,
            ),
        }
        check = await a.query(app, overview)
        figures["overview_rollup_days"] = check.rollup_days
        figures["overview_sessions"] = check.totals["sessions"]
        return figures
    finally:
        await engine.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--events-per-session", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5, help="Runs per figure (p50 reported).")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data/bench"), help="Where the SQLite files stay."
    )
    parser.add_argument(
        "--pg-url",
        default=None,
        help="A PostgreSQL database for the generated data, created when missing (default: "
        "sessionhub_bench_<sessions> on 127.0.0.1).",
    )
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if args.backend in ("sqlite", "both"):
        args.data_dir.mkdir(parents=True, exist_ok=True)
        path = args.data_dir / f"analytics-v{VERSION}-{args.sessions}-{args.events_per_session}.db"
        result["sqlite"] = await run(f"sqlite:///{path.resolve()}", "sqlite", args)
    if args.backend in ("postgres", "both"):
        url = args.pg_url or (
            f"postgresql://postgres@127.0.0.1:5432/sessionhub_bench_v{VERSION}_{args.sessions}"
            f"_{args.events_per_session}"
        )
        await ensure_database(url)
        result["postgres"] = await run(url, "postgres", args)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


async def ensure_database(url: str) -> None:
    import asyncpg

    base, name = url.rsplit("/", 1)
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    else:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
