"""Benchmark the dashboard's server time; print the figures as one JSON document.

Uses the app of bench/analytics.py (``--sessions`` sessions, default 1,000,000, ten
events each on average, over 90 days; made once and reused, see that script), signs in to
the dashboard with a secret key of it and times, as the p50 of ``--runs`` requests through
the whole ASGI stack (routing, sign-in lookup, queries, template rendering; no network):

- ``overview_page_ms``: GET /dashboard/ over the last 30 days: the headline numbers with
  their previous period, the daily series and active now;
- ``overview_panels_ms``: the seven top lists the page loads right after (one request
  each, all at once, as the browser sends them): the time until the last arrives;
- ``median_ms``: the median duration card (also loaded after the page): the duration
  histograms of the rolled-up days of the range and the period before, plus today's raw
  sessions;
- ``sessions_table_ms``: GET /dashboard/sessions: the newest 50 sessions of the last 30
  days (keyset pagination, no count over the table);
- ``sessions_table_page_2_ms``: the next 50, through the cursor.

    .venv/bin/python bench/dashboard.py --sessions 100000
    .venv/bin/python bench/dashboard.py --backend postgres

SQLite by default (the target is on SQLite); ``--data-dir``, ``--pg-url`` and the database
made for PostgreSQL as in bench/analytics.py. ``cpu_ms`` figures are the process's CPU time
per request (the same p50 runs), which other load on the machine does not inflate.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from analytics import VERSION, ensure_database, prepare
from sessionhub.api import create_app
from sessionhub.dashboard import overview

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PANELS = [f"/dashboard/fragments/panel/{d}" for d in overview.PANELS]
MORE = re.compile(r'hx-get="(/dashboard/sessions\?[^"]+)"')


CPU: dict[str, float] = {}  # figure -> p50 CPU ms


async def p50(client: httpx.AsyncClient, path: str, runs: int, name: str = "") -> float:
    times, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    CPU[name or path] = round(statistics.median(cpu), 1)
    return round(statistics.median(times), 1)


async def together(client: httpx.AsyncClient, paths: list[str], runs: int) -> float:
    """p50 of the time until every one of ``paths``, requested at once, has answered."""
    times, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        answers = await asyncio.gather(*(client.get(path) for path in paths))
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
        assert all(a.status_code == 200 for a in answers)
    CPU["overview_panels_ms"] = round(statistics.median(cpu), 1)
    return round(statistics.median(times), 1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.backend == "sqlite":
        args.data_dir.mkdir(parents=True, exist_ok=True)
        name = f"analytics-v{VERSION}-{args.sessions}-{args.events_per_session}.db"
        url = f"sqlite:///{(args.data_dir / name).resolve()}"
    else:
        url = args.pg_url or (
            f"postgresql://postgres@127.0.0.1:5432/sessionhub_bench_v{VERSION}_{args.sessions}"
            f"_{args.events_per_session}"
        )
        await ensure_database(url)
    engine, app_id, made = await prepare(url, args.backend, args.sessions, args.events_per_session)
    try:
        key = await engine.keys.issue("secret", app_id, "bench dashboard")
        app = create_app(engine, run_worker=False, manage_engine=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            form = await client.get("/dashboard/login")
            found = CSRF.search(form.text)
            assert found is not None
            signed = await client.post(
                "/dashboard/login", data={"key": key.token, "csrf": found.group(1)}
            )
            assert signed.status_code == 303, signed.text
            first = await client.get("/dashboard/sessions")
            more = MORE.search(first.text)
            assert more is not None
            figures: dict[str, Any] = {
                "backend": args.backend,
                "sessions": args.sessions,
                "events": made["events"],
                "generate_s": made["generate_s"],
                "rollups_s": made["rollups_s"],
                "overview_page_ms": await p50(client, "/dashboard/", args.runs),
                "overview_panels_ms": await together(client, PANELS, args.runs),
                "median_ms": await p50(client, "/dashboard/fragments/median", args.runs),
                "sessions_table_ms": await p50(client, "/dashboard/sessions", args.runs),
                "sessions_table_page_2_ms": await p50(
                    client, more.group(1).replace("&amp;", "&"), args.runs, "page_2"
                ),
            }
            figures["cpu_ms"] = {
                "overview_page": CPU["/dashboard/"],
                "overview_panels": CPU["overview_panels_ms"],
                "median": CPU["/dashboard/fragments/median"],
                "sessions_table": CPU["/dashboard/sessions"],
                "sessions_table_page_2": CPU["page_2"],
            }
        await engine.keys.revoke(key.id)
        return figures
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--events-per-session", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5, help="Requests per figure (p50 reported).")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url", default=None, help="A PostgreSQL database, as in bench/analytics.py."
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data/bench"), help="Where the SQLite files stay."
    )
    args = parser.parse_args()
    print(orjson.dumps(asyncio.run(run(args)), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
