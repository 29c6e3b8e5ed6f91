"""The worker's jobs. Each does a bounded amount of work per transaction and says how much."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sessionhub import metrics
from sessionhub.core import retention
from sessionhub.core.analytics import patterns, rollups
from sessionhub.core.encryption import sweep_job
from sessionhub.storage import memory as mq
from sessionhub.storage import sessions as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Engine], Awaitable[int]]


async def expire_sessions(engine: Engine) -> int:
    """End idle and expired sessions, stamping the moment, reason and duration they ended with."""
    total = 0
    batch = engine.settings.worker_batch
    while True:
        looked_at, ended = await engine.db.write(q.expire_due, engine.clock.now_ms(), batch)
        total += ended
        if looked_at < batch:
            break
    metrics.ACTIVE_SESSIONS.set(
        await engine.db.read(q.count_running, engine.clock.now_ms(), heavy=True)
    )
    return total


async def purge_deleted_sessions(engine: Engine) -> int:
    """Remove deleted sessions and every row that belonged to them."""
    total = 0
    batch = engine.settings.worker_batch
    while True:
        removed = await engine.db.write(q.purge_deleted, batch)
        total += removed
        if removed < batch:
            return total


async def expire_histories(engine: Engine) -> int:
    """Remove the messages of conversation histories past their TTL (reads hide them already)."""
    total = 0
    # A history may hold many messages, so fewer of them go per transaction.
    batch = max(1, engine.settings.worker_batch // 10)
    while True:
        removed = await engine.db.write(mq.expire_histories, engine.clock.now_ms(), batch)
        total += removed
        if removed < batch:
            return total


async def purge_expired_state(engine: Engine) -> int:
    """Remove expired state keys and cached answers (reads hide them already)."""
    total = 0
    batch = engine.settings.worker_batch
    while True:
        removed = await engine.db.write(mq.purge_expired_state, engine.clock.now_ms(), batch)
        total += removed
        if removed < batch:
            return total


async def rollup_analytics(engine: Engine) -> int:
    """Recompute the daily analytics rollups of days whose sessions changed (late events too)."""
    return await rollups.refresh_all(engine)


async def enforce_retention(engine: Engine) -> int:
    """Remove raw events, messages and ended sessions past each app's retention (rollups
    stay: this runs after them), then purge the removed sessions' rows."""
    removed = await retention.enforce_all(engine)
    if removed:
        await purge_deleted_sessions(engine)
    return removed


async def refresh_user_patterns(engine: Engine) -> int:
    """Recompute the stored patterns of users active since the last run."""
    return await patterns.refresh_all(engine)


async def sweep_attachment_files(engine: Engine) -> int:
    """Remove work-session attachment files whose rows were deleted with their session."""
    return await engine.work.attachments.sweep()


async def snapshot_segments(engine: Engine) -> int:
    """Record each segment's size once a day (app timezone), for its history."""
    return await engine.personalization.segments.snapshot_all()


JOBS: list[Job] = [
    Job("expire_sessions", expire_sessions),
    Job("purge_deleted_sessions", purge_deleted_sessions),
    Job("expire_histories", expire_histories),
    Job("purge_expired_state", purge_expired_state),
    Job("rollup_analytics", rollup_analytics),
    Job("enforce_retention", enforce_retention),
    Job("refresh_user_patterns", refresh_user_patterns),
    Job("snapshot_segments", snapshot_segments),
    Job("sweep_attachment_files", sweep_attachment_files),
    # Rewrites values under old encryption keys; nothing to do unless a key was rotated.
    Job("reencrypt", sweep_job),
]
