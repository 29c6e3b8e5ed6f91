"""Retention: raw events, messages and ended sessions are kept for the app's number of days,
then removed by the worker in batches. Rollups are kept.

A day's rollup is computed from its sessions and their events, so once retention has
removed any of a day's raw data the day can no longer be recomputed: days before
``intact_from`` are frozen, and the rollup job neither recomputes nor drops them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sessionhub.core.analytics import calendar as cal
from sessionhub.models import AppSettings
from sessionhub.storage import privacy_subjects as q
from sessionhub.storage.analytics import queries as aq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

DAY_MS = 86_400_000


def cutoffs(settings: AppSettings, now: int) -> dict[str, int | None]:
    """kind -> the time before which its records are past retention (None: kept forever)."""
    keep = settings.retention
    return {
        "events": now - keep.events_days * DAY_MS if keep.events_days else None,
        "messages": now - keep.messages_days * DAY_MS if keep.messages_days else None,
        "ended_sessions": (
            now - keep.ended_sessions_days * DAY_MS if keep.ended_sessions_days else None
        ),
    }


def intact_from(settings: AppSettings, zone: ZoneInfo, now: int) -> int | None:
    """The first local day whose sessions and events retention has not touched (None: every
    day is intact, nothing is removed)."""
    found = cutoffs(settings, now)
    limits = [v for v in (found["events"], found["ended_sessions"]) if v is not None]
    if not limits:
        return None
    return cal.local_day(zone, min(limits)) + 1


async def _drain(engine: Engine, fn: object, *args: object) -> int:
    """Run a bounded delete until it removes less than a batch."""
    total = 0
    batch = engine.settings.worker_batch
    while True:
        removed: int = await engine.db.write(fn, *args, batch)  # type: ignore[arg-type]
        total += removed
        if removed < batch:
            return total


async def enforce(engine: Engine, app_id: str) -> dict[str, int]:
    """Remove what is past the app's retention; how many of each kind."""
    settings = await engine.apps.settings(app_id)
    now = engine.clock.now_ms()
    due = cutoffs(settings, now)
    removed = {"events": 0, "messages": 0, "ended_sessions": 0}
    if due["events"] is not None:
        removed["events"] = await _drain(engine, q.expire_events, app_id, due["events"])
    if due["messages"] is not None:
        removed["messages"] = await _drain(engine, q.expire_messages, app_id, due["messages"])
    if due["ended_sessions"] is not None:
        batch = engine.settings.worker_batch
        while True:
            marked = await engine.db.write(
                q.expire_sessions, app_id, due["ended_sessions"], now, batch
            )
            removed["ended_sessions"] += marked
            if marked < batch:
                break
    return removed


async def enforce_all(engine: Engine) -> int:
    """Apply every app's retention; how many records were removed (sessions: tombstoned,
    the purge job removes them and what they hold)."""
    total = 0
    for app_id in await engine.db.read(aq.app_ids):
        total += sum((await enforce(engine, app_id)).values())
    return total
