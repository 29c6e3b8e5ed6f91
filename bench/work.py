"""Benchmark work sessions: create many with goals and comments, then search them.

In-process (``Engine``) on a fresh SQLite file (or ``--database-url``): create
``--sessions`` work sessions owned by 200 users, half from a built-in template (five
goals, three milestones) and half blank with two goals of their own, each with a
comment, a quarter of them started; ``create_s`` is the time all of that takes, run by
``--concurrency`` tasks. Then ``--samples`` more sessions are created from a template one
at a time (``create_from_template_p95_ms``), and ``--queries`` full-text searches with a
filter (status or priority) run one at a time as random users (``search_p50_ms``,
``search_p95_ms``). Targets on SQLite at 100,000 sessions: search p95 <= 50 ms, create
from a template p95 <= 10 ms.

    .venv/bin/python bench/work.py                   # 100,000 sessions
    .venv/bin/python bench/work.py --sessions 5000   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from sessionhub import Engine, Settings
from sessionhub.models.work import CommentCreate, GoalCreate, WorkCreate

WORDS = [
    "login",
    "payment",
    "invoice",
    "search",
    "checkout",
    "cache",
    "timeout",
    "retry",
    "webhook",
    "export",
    "import",
    "report",
    "dashboard",
    "email",
    "signup",
    "password",
    "migration",
    "index",
    "query",
    "latency",
    "memory",
    "leak",
    "crash",
    "upload",
    "download",
    "image",
    "thumbnail",
    "billing",
    "refund",
    "coupon",
    "cart",
    "inventory",
    "shipping",
    "tracking",
    "mobile",
    "android",
    "ios",
    "release",
    "deploy",
    "rollback",
    "feature",
    "flag",
    "experiment",
    "onboarding",
    "tutorial",
    "docs",
    "api",
    "client",
    "server",
    "worker",
    "queue",
    "cron",
    "schedule",
    "backup",
    "restore",
    "audit",
    "privacy",
    "consent",
    "translation",
    "locale",
    "timezone",
    "calendar",
    "reminder",
    "notification",
    "push",
    "badge",
    "profile",
    "avatar",
]
TEMPLATES = ("tpl_bug_fix", "tpl_feature", "tpl_research")
USERS = [f"user-{n:03}" for n in range(200)]


def phrase(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


async def make_session(engine: Engine, app_id: str, n: int, rng: random.Random) -> None:
    """One work session as the benchmark's mix has it: template or blank, goals, a comment."""
    work, user = engine.work, USERS[n % len(USERS)]
    if n % 2 == 0:
        req = WorkCreate(template_id=TEMPLATES[n % 3], name=phrase(rng, 3).capitalize())
        session = await work.sessions.create(app_id, user, req)
    else:
        req = WorkCreate(
            name=phrase(rng, 3).capitalize(),
            description=phrase(rng, 12),
            priority=rng.choice(("low", "medium", "high", "urgent")),
            estimate_s=rng.choice((1800, 3600, 5400)),
        )
        session = await work.sessions.create(app_id, user, req)
        for _ in range(2):
            goal = GoalCreate(title=phrase(rng, 3), estimate_s=rng.choice((600, 1200)))
            await work.goals.create(app_id, user, session.id, goal)
    await work.comments.add(app_id, user, session.id, CommentCreate(body=phrase(rng, 10)))
    if n % 4 == 0:
        await work.sessions.transition(app_id, user, session.id, "active")


async def run(options: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="sessionhub-bench-work-"))
    url = options.database_url or f"sqlite:///{folder / 'bench.db'}"
    settings = Settings(database_url=url, data_dir=folder, run_worker=False)
    rng = random.Random(6)
    async with Engine(settings) as engine:
        app_id = (await engine.apps.create("bench-work")).id

        started = time.perf_counter()
        queue = iter(range(options.sessions))

        async def worker() -> None:
            for n in queue:
                await make_session(engine, app_id, n, rng)

        await asyncio.gather(*(worker() for _ in range(options.concurrency)))
        create_s = time.perf_counter() - started

        from_template = []
        for n in range(options.samples):
            req = WorkCreate(template_id=TEMPLATES[n % 3], name=phrase(rng, 3))
            began = time.perf_counter()
            await engine.work.sessions.create(app_id, USERS[n % len(USERS)], req)
            from_template.append((time.perf_counter() - began) * 1000)

        searches = []
        for _ in range(options.queries):
            filters: dict[str, Any] = (
                {"status": rng.choice(("draft", "active"))}
                if rng.random() < 0.5
                else {"priority": rng.choice(("low", "medium", "high", "urgent"))}
            )
            began = time.perf_counter()
            await engine.work.search.list(
                app_id, rng.choice(USERS), q=rng.choice(WORDS), limit=20, **filters
            )
            searches.append((time.perf_counter() - began) * 1000)

    return {
        "sessions": options.sessions,
        "backend": "sqlite" if url.startswith("sqlite") else "postgresql",
        "create_s": round(create_s, 2),
        "create_from_template_p50_ms": round(statistics.median(from_template), 3),
        "create_from_template_p95_ms": round(percentile(from_template, 95), 3),
        "search_p50_ms": round(statistics.median(searches), 3),
        "search_p95_ms": round(percentile(searches, 95), 3),
        "queries": options.queries,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="work sessions to create")
    parser.add_argument("--queries", type=int, default=500, help="searches to time")
    parser.add_argument("--samples", type=int, default=1000, help="timed creates from a template")
    parser.add_argument("--concurrency", type=int, default=50, help="tasks creating sessions")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    options = parser.parse_args(argv)
    print(orjson.dumps(asyncio.run(run(options)), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
