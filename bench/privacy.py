"""Benchmark data-subject export and erasure; print the figures as one JSON document.

One SQLite file, in-process (``Engine``): a user with ``--events`` events over
``--sessions`` sessions spread across ten past days, among other users' traffic, with the
days rolled up. Then the user is exported (the streamed JSON document, read to the end)
and erased (rollups of the touched days recomputed). Targets: export <= 3 s, erase <= 5 s
for 100,000 events and 50 sessions. Wall and CPU seconds (the process, all threads) are
both given: on a busy machine the wall times stretch.

    .venv/bin/python bench/privacy.py                 # the full size
    .venv/bin/python bench/privacy.py --events 5000   # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from sessionhub import Engine, FakeClock, Settings
from sessionhub.core.analytics import rollups
from sessionhub.models import SessionCreate
from sessionhub.models.privacy import SubjectIn

DAYS = 10
BATCH = 500
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z


async def _session_with_events(
    engine: Engine, app_id: str, user_id: str, count: int, clock: FakeClock
) -> None:
    session, _ = await engine.sessions.create(
        app_id, SessionCreate(user_id=user_id, device_id=f"dev-{user_id}", user_agent=BROWSER)
    )
    for start in range(0, count, BATCH):
        batch = [
            {
                "session_id": session.id,
                "type": "page_view" if n % 3 else "action",
                "path": f"/page/{n % 40}",
                "properties": {"n": n, "plan": "pro"},
            }
            for n in range(start, min(count, start + BATCH))
        ]
        result = await engine.events.ingest(app_id, batch)
        assert result.accepted == len(batch), result.rejected[:1]
        clock.advance(1)


async def build(engine: Engine, clock: FakeClock, events: int, sessions: int, others: int) -> str:
    """The app: the subject's sessions and others' over DAYS days, rolled up; its id."""
    app = await engine.apps.create("bench")
    per_session = events // sessions
    for index in range(sessions):
        clock.set(START + (index % DAYS) * 86_400_000 + index * 60_000)
        await _session_with_events(engine, app.id, "subject", per_session, clock)
    for index in range(others):
        clock.set(START + (index % DAYS) * 86_400_000 + 3_600_000 + index * 1000)
        await _session_with_events(engine, app.id, f"other-{index}", 20, clock)
    clock.set(START + (DAYS + 2) * 86_400_000)
    await rollups.refresh(engine, app.id, full=True)
    return app.id


async def run(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), run_worker=False, app_cache_s=0)
        clock = FakeClock(START)
        engine = await Engine(settings, clock=clock).start()
        try:
            app_id = await build(engine, clock, options.events, options.sessions, options.others)
            subject = SubjectIn(user_id="subject")
            started, cpu = time.perf_counter(), time.process_time()
            size = 0
            async for chunk in await engine.subjects.export(app_id, subject):
                size += len(chunk)
            export_s = time.perf_counter() - started
            export_cpu_s = time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            erasure = await engine.subjects.erase(app_id, subject)
            erase_s = time.perf_counter() - started
            erase_cpu_s = time.process_time() - cpu
            load = os.getloadavg()[0]
            after = await engine.subjects.find(app_id, subject)
        finally:
            await engine.close()
    return {
        "events": erasure.records["events"],
        "sessions": erasure.records["sessions"],
        "other_sessions": options.others,
        "export_s": round(export_s, 3),
        "export_cpu_s": round(export_cpu_s, 3),
        "export_bytes": size,
        "erase_s": round(erase_s, 3),
        "erase_cpu_s": round(erase_cpu_s, 3),
        "days_recomputed": erasure.days_recomputed,
        "left_after_erasure": sum(after.records.values()),
        "targets": {"export_s": 3.0, "erase_s": 5.0},
        "backend": "sqlite",
        # Wall times stretch on a busy machine; CPU times (all threads) do not.
        "load_average": round(load, 2),
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="the subject's events")
    parser.add_argument("--sessions", type=int, default=50, help="the subject's sessions")
    parser.add_argument("--others", type=int, default=200, help="other users' sessions")
    options = parser.parse_args(argv)
    figures = asyncio.run(run(options))
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
