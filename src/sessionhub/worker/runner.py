"""Run the jobs: once (tests, cron) or forever (``serve`` and ``sessionhub worker``)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sessionhub import metrics
from sessionhub.ids import new_id
from sessionhub.storage import leases
from sessionhub.worker.jobs import JOBS, Job

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

log = logging.getLogger("sessionhub.worker")
LEASE_MS = 60_000


class Worker:
    """Runs each job under a lease, so two workers never do the same job at once."""

    def __init__(self, engine: Engine, jobs: list[Job] | None = None):
        self.engine = engine
        self.jobs = JOBS if jobs is None else jobs
        self.holder = new_id("wrk")

    async def run_once(self) -> dict[str, int | None]:
        """Run each job whose lease this worker gets; rows changed per job (None: not run)."""
        results: dict[str, int | None] = {}
        for job in self.jobs:
            now = self.engine.clock.now_ms()
            if not await self.engine.db.write(leases.claim, job.name, self.holder, now, LEASE_MS):
                results[job.name] = None
                metrics.WORKER_JOB_RUNS.labels(job.name, "skipped").inc()
                continue
            try:
                changed = await job.run(self.engine)
            except Exception:
                metrics.WORKER_JOB_RUNS.labels(job.name, "failed").inc()
                log.exception("worker job %s failed", job.name)
                results[job.name] = None
            else:
                metrics.WORKER_JOB_RUNS.labels(job.name, "ok").inc()
                metrics.WORKER_JOB_ITEMS.labels(job.name).inc(changed)
                results[job.name] = changed
            finally:
                await self.engine.db.write(leases.release, job.name, self.holder)
        return results

    async def run_forever(self, interval_s: float | None = None) -> None:
        """Run the jobs every ``interval_s`` seconds until cancelled."""
        interval = self.engine.settings.worker_interval_s if interval_s is None else interval_s
        while True:
            try:
                await self.run_once()
            except Exception:  # storage down: try again next round
                log.exception("worker run failed")
            await asyncio.sleep(interval)
