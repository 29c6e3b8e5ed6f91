"""Benchmark personalization; print the figures as one JSON document.

Measured in one run, on a fresh database of the backend:
- ``ingest_overhead_pct``: the profile update's CPU time over the rest of in-process
  ingestion (batches of 50 events of identified users), measured inside the same runs
  (``ingest_overhead_pct_on_off`` compares whole runs with it switched off instead);
- ``recommend_p95_ms``: personalized recommendations for random users of ``--users``
  users x ``--items`` items (the model built first; ``model_build_s`` says how long);
- ``hit_rate_at_10``: each strategy's leave-last-out hit rate at 10 on that data;
- ``decide_inproc_per_s``: ``decide`` for users with 10 running experiments, in-process
  (and ``decide_inproc_per_cpu_s``, by CPU time: steadier on a shared machine);
- ``decide_http_p99_ms``: ``GET /v1/decide`` with the publishable key to a real
  ``sessionhub serve`` child process on 127.0.0.1.

    .venv/bin/python bench/personalization.py                              # full size
    .venv/bin/python bench/personalization.py --users 2000 --items 500     # quick
    .venv/bin/python bench/personalization.py --decide-only --skip-http    # decide in-process
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import uvloop

import sessionhub.core.events as events_module
from sessionhub import Engine
from sessionhub.models import AppSettings
from sessionhub.models.apps import RateLimitSettings
from sessionhub.models.personalization import ExperimentIn

sys.path.insert(0, str(Path(__file__).parent))
# The lean HTTP client, the child-process server and the database set-up of bench/lifecycle.py.
from lifecycle import (
    DEFAULT_PG_URL,
    Connection,
    Keys,
    Options,
    drive_http,
    fresh_database,
    http_request,
    percentile_ms,
    server,
    settings_for,
)

BATCH = 50
EXPERIMENTS = 10


async def make_app(engine: Engine) -> Keys:
    """An app that accepts a month of back-dated events and any request rate from one IP."""
    settings = AppSettings(
        rate_limits=RateLimitSettings(per_ip="100000000/minute"),
        late_event_window_s=60 * 86400,
    )
    app = await engine.apps.create("bench", settings)
    pk = await engine.keys.issue("publishable", app.id, "bench")
    sk = await engine.keys.issue("secret", app.id, "bench")
    return Keys(app.id, pk.token, sk.token)


def shop_events(users: int, items: int, per_user: int, seed: int = 7) -> list[list[dict[str, Any]]]:
    """Per user, a month of views: two favourite categories, popular items more often."""
    rng = random.Random(seed)
    categories = max(2, items // 50)
    by_category = [list(range(c, items, categories)) for c in range(categories)]
    start = datetime.now(UTC) - timedelta(days=30)
    out = []
    for u in range(users):
        liked = rng.sample(range(categories), 2)
        history = []
        for n in range(per_user):
            category = liked[0] if rng.random() < 0.7 else liked[1]
            pool = by_category[category]
            item = pool[min(len(pool) - 1, int(rng.paretovariate(1.2)) - 1)]
            at = start + timedelta(minutes=u % 1000 + n * 60)
            history.append(
                {
                    "type": "page_view" if n % 5 else "action",
                    "user_id": f"user-{u}",
                    "timestamp": at.isoformat(),
                    "path": f"/shop/{category}/{item}",
                    "properties": {"product_id": f"p{item}", "category": f"c{category}"},
                }
            )
        out.append(history)
    return out


async def ingest_all(engine: Engine, app_id: str, histories: list[list[dict[str, Any]]]) -> int:
    """Ingest every history in batches of 50, from 16 tasks."""
    flat = [e for h in histories for e in h]
    batches = iter([flat[i : i + BATCH] for i in range(0, len(flat), BATCH)])
    accepted = 0

    async def task() -> None:
        nonlocal accepted
        for batch in batches:
            result = await engine.events.ingest(app_id, batch)
            accepted += result.accepted  # after the await: += across one would lose counts

    await asyncio.gather(*(task() for _ in range(16)))
    return accepted


async def bench_overhead(engine: Engine, rounds: int, batches: int) -> dict[str, Any]:
    """The profile update's share of in-process ingestion, in CPU time of the event loop's
    thread (where SQLite's writer runs; checkpoints in other threads stay out).

    ``ingest_overhead_pct``: in rounds with the update on, the CPU time spent inside the
    update over the CPU time of the rest of the ingestion, the median over rounds. Both
    sides come from the same run, so other load on the machine weighs on them alike.
    ``ingest_overhead_pct_on_off``: the same from whole runs with the update switched off,
    interleaved (the median of each round's with/without ratio): it also counts indirect
    costs, but whole runs of the same work differ by a tenth or more here.
    """
    hook = events_module.absorb_profiles
    inside = 0.0

    def timed_hook(*args: Any) -> None:
        nonlocal inside
        started = time.thread_time()
        try:
            hook(*args)
        finally:
            inside += time.thread_time() - started

    cpu: dict[str, list[float]] = {"with": [], "without": []}
    shares: list[float] = []
    for r in range(rounds):
        # Alternate which goes first: the database grows with every run.
        for mode in ("without", "with") if r % 2 == 0 else ("with", "without"):
            keys = await make_app(engine)
            histories = shop_events(batches * BATCH // 25, 500, 25, seed=r)
            events_module.absorb_profiles = timed_hook if mode == "with" else _no_profiles  # type: ignore[assignment]
            inside = 0.0
            try:
                started = time.thread_time()
                await ingest_all(engine, keys.app_id, histories)
                spent = time.thread_time() - started
            finally:
                events_module.absorb_profiles = hook
            cpu[mode].append(spent)
            if mode == "with":
                shares.append(inside / (spent - inside))
    ratios = [w / wo for w, wo in zip(cpu["with"], cpu["without"], strict=True)]
    return {
        "ingest_overhead_pct": round(statistics.median(shares) * 100, 1),
        "ingest_overhead_pct_on_off": round((statistics.median(ratios) - 1) * 100, 1),
        "ingest_cpu_s": {mode: round(min(values), 3) for mode, values in cpu.items()},
        "ingest_events_per_round": batches * BATCH,
    }


def _no_profiles(*_: Any) -> None:
    return None


async def bench_recommend(engine: Engine, app_id: str, users: int, samples: int) -> dict[str, Any]:
    recs = engine.personalization.recommendations
    started = time.perf_counter()
    items = await recs.rebuild(app_id)
    build_s = time.perf_counter() - started
    rng = random.Random(3)
    latencies = []
    cpu = time.process_time()
    for _ in range(samples):
        user = f"user-{rng.randrange(users)}"
        t0 = time.perf_counter()
        found = await recs.recommend(app_id, user_id=user, k=10)
        latencies.append(time.perf_counter() - t0)
        assert found.items, "no recommendations"
    cpu_ms = (time.process_time() - cpu) / samples * 1000
    started = time.perf_counter()
    evaluation = await engine.personalization.evaluate(app_id, k=10, max_users=1000)
    return {
        "recommend_p95_ms": percentile_ms(latencies, 95),
        "recommend_p50_ms": percentile_ms(latencies, 50),
        "recommend_cpu_ms_per_request": round(cpu_ms, 3),
        "model_build_s": round(build_s, 2),
        "model_items": items,
        "hit_rate_at_10": evaluation.hit_rate,
        "ndcg_at_10": evaluation.ndcg,
        "evaluation_users": evaluation.users,
        "evaluation_s": round(time.perf_counter() - started, 2),
    }


async def make_experiments(engine: Engine, app_id: str) -> None:
    for n in range(EXPERIMENTS):
        spec = {
            "key": f"exp-{n}",
            "variants": [
                {"key": "control", "features": {f"flag_{n}": False}},
                {"key": "treatment", "features": {f"flag_{n}": True}},
            ],
            "coverage": 0.8,
            "goal": {"event": "conversion"},
            "status": "running",
        }
        if n >= 8:  # two mutually exclusive ones
            spec["namespace"] = {"name": "checkout", "start": (n - 8) / 2, "end": (n - 7) / 2}
        await engine.personalization.experiments.create(app_id, ExperimentIn.model_validate(spec))


async def bench_decide_inproc(engine: Engine, app_id: str, units: int, ops: int) -> dict[str, Any]:
    experiments = engine.personalization.experiments
    for u in range(units):  # first exposures (stored), as a live app would have
        await experiments.decide(app_id, user_id=f"user-{u}")
    started = time.perf_counter()
    cpu = time.process_time()
    for i in range(ops):
        await experiments.decide(app_id, user_id=f"user-{i % units}")
    elapsed = time.perf_counter() - started
    return {
        "decide_inproc_per_s": round(ops / elapsed, 1),
        "decide_inproc_per_cpu_s": round(ops / (time.process_time() - cpu), 1),
        "decide_units": units,
    }


async def bench_decide_http(
    url: str, data_dir: Path, keys: Keys, units: int, requests: int, port: int, connections: int
) -> dict[str, Any]:
    with server(url, data_dir, port) as proc:
        loop = asyncio.get_running_loop()
        conns: list[Connection] = []
        for _ in range(connections):
            _, conn = await loop.create_connection(Connection, "127.0.0.1", port)
            conns.append(conn)
        try:
            made = [
                http_request("GET", f"/v1/decide?user_id=user-{u}", port, keys.publishable)
                for u in range(units)
            ]

            def decide(i: int) -> bytes:
                return made[i % units]

            await drive_http(conns, decide, units, 30.0)  # warm-up: first exposures
            phase, statuses = await drive_http(conns, decide, requests, 30.0, server_pid=proc.pid)
        finally:
            for conn in conns:
                if conn.transport is not None:
                    conn.transport.close()
    return {
        "decide_http_p99_ms": percentile_ms(phase.latencies, 99),
        "decide_http_p50_ms": percentile_ms(phase.latencies, 50),
        "decide_http_rps": phase.per_s,
        # CPU per request, which other load on the machine hardly changes (latency does).
        "decide_http_server_cpu_us_per_request": phase.cpu_us_per_op(phase.server_cpu_s),
        "decide_http_connections": connections,
        "decide_http_statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


async def bench_inprocess(url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    engine = await Engine(settings_for(url, data_dir)).start(migrate=False)
    try:
        figures: dict[str, Any] = {}
        if not args.decide_only:
            figures.update(await bench_overhead(engine, args.rounds, args.overhead_batches))
        keys = await make_app(engine)
        if not args.decide_only:
            histories = shop_events(args.users, args.items, args.events_per_user)
            started = time.perf_counter()
            figures["bench_events"] = await ingest_all(engine, keys.app_id, histories)
            figures["bench_ingest_s"] = round(time.perf_counter() - started, 1)
            del histories  # not needed after the ingest: free it before the timed phases
            figures.update(await bench_recommend(engine, keys.app_id, args.users, args.samples))
        await make_experiments(engine, keys.app_id)
        figures.update(
            await bench_decide_inproc(engine, keys.app_id, args.decide_units, args.decide_ops)
        )
        return {"keys": keys, **figures}
    finally:
        await engine.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    options = Options(
        concurrency=16,
        inproc_ops=0,
        connections=args.connections,
        http_create_requests=0,
        http_validate_requests=0,
        seconds=30.0,
        port=args.port,
        pg_url=args.pg_url,
    )
    figures: dict[str, Any] = {"loadavg_1m_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="sessionhub-bench-data-") as tmp:
        data_dir = Path(tmp)
        with fresh_database(args.backend, options) as url:
            inproc = uvloop.run(bench_inprocess(url, data_dir, args))
            keys = inproc.pop("keys")
            figures.update(inproc)
            if not args.skip_http:
                figures.update(
                    uvloop.run(
                        bench_decide_http(
                            url,
                            data_dir,
                            keys,
                            args.decide_units,
                            args.http_requests,
                            args.port,
                            args.connections,
                        )
                    )
                )
    figures["size"] = {
        "users": args.users,
        "items": args.items,
        "events_per_user": args.events_per_user,
    }
    figures["targets"] = {
        "decide_inproc_per_s": ">= 20000",
        "decide_http_p99_ms": "<= 10",
        "ingest_overhead_pct": "<= 15",
        "recommend_p95_ms": "<= 20 at 20000 users x 5000 items",
    }
    figures["backend"] = args.backend
    figures["python"] = platform.python_version()
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--events-per-user", type=int, default=20)
    parser.add_argument("--samples", type=int, default=500, help="recommendations timed")
    parser.add_argument("--rounds", type=int, default=10, help="ingest overhead rounds")
    parser.add_argument("--overhead-batches", type=int, default=200, help="batches per round")
    parser.add_argument("--decide-units", type=int, default=1000)
    parser.add_argument("--decide-ops", type=int, default=50_000)
    parser.add_argument("--http-requests", type=int, default=5_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--decide-only", action="store_true", help="only the decide figures (no data, no ingest)"
    )
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument(
        "--pg-url", default=os.environ.get("SESSIONHUB_BENCH_PG_URL", DEFAULT_PG_URL)
    )
    print(orjson.dumps(run(parser.parse_args(argv)), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
