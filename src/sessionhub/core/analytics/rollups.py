"""Daily rollups: per app, per local day, the parts of the sessions that started that day.

Each row (the day's totals per kind, and each value of each rolled-up dimension) also
keeps its sessions' duration histogram, so medians over many days add histograms.

The worker keeps them. Each run it takes a *fingerprint* of every recent day (sessions,
users, events, summed durations, bots) and recomputes the days whose fingerprint or
settings changed, so a late event, a heartbeat or a new user id reaches its day's
rollup on the next run. Days of the late-event window, and days with a running session,
are checked every run; every day once an hour (imports and deletions of old sessions).
Recomputing a day replaces it whole, so running twice changes nothing. Today is never
rolled up: queries read it raw.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sessionhub.core.analytics import calendar as cal
from sessionhub.core.analytics.query import base_scope, settings_key
from sessionhub.core.retention import intact_from
from sessionhub.storage.analytics import queries as aq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

FULL_CHECK_MS = 3_600_000
DAYS_PER_WRITE = 14


def _runs(days: list[int]) -> list[list[int]]:
    """Consecutive days grouped, at most DAYS_PER_WRITE each."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1 and len(runs[-1]) < DAYS_PER_WRITE:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


async def refresh(engine: Engine, app_id: str, *, full: bool = False) -> int:
    """Bring an app's rollups up to date; how many days were recomputed or dropped."""
    db = engine.db
    settings = await engine.apps.settings(app_id)
    zone = ZoneInfo(settings.timezone)
    key = settings_key(settings)
    now = engine.clock.now_ms()
    today = cal.local_day(zone, now)
    state = await db.read(aq.state, app_id)
    known = await db.read(aq.rolled_days, app_id, -(10**6), today + 1)
    if any(entry[0] != key for entry in known.values()):
        full = True  # the timezone or the bounce rule changed: every day is stale
    last_full = state.get("full_check_at")
    full = full or last_full is None or now - last_full >= FULL_CHECK_MS
    if full:
        first = await db.read(aq.first_start, app_id)
        lo_day = cal.local_day(zone, first) if first is not None else today
        lo_day = min([lo_day, *known])
    else:
        window = math.ceil(settings.late_event_window_s / 86400) + 1
        unsealed = [day for day, entry in known.items() if not entry[2]]
        lo_day = min([today - window, *unsealed])
    horizon = intact_from(settings, zone, now)
    if horizon is not None:
        # Retention removed raw data before this day: its rollups are all that is left.
        lo_day = max(lo_day, horizon)
    changed = 0
    if lo_day < today:
        lo, hi = cal.day_start(zone, lo_day), cal.day_start(zone, today)
        scope = base_scope(app_id, settings, lo, hi, db.dialect)
        seen = await db.read(aq.fingerprints, scope, now, heavy=True)
        stale = [
            day
            for day, (fingerprint, _) in seen.items()
            if day < today
            and (day not in known or known[day][0] != key or known[day][1] != fingerprint)
        ]
        sealing = [
            day
            for day, (_, sealed) in seen.items()
            if sealed and day in known and not known[day][2]
        ]
        gone = [day for day in known if lo_day <= day < today and day not in seen]
        for run in _runs(sorted(set(stale) | set(sealing))):
            lo_run, hi_run = cal.day_start(zone, run[0]), cal.day_start(zone, run[-1] + 1)
            day_scope = base_scope(
                app_id, settings, lo_run, hi_run, db.dialect, dimensions=("kind",)
            )
            rows, sets = await db.read(aq.rollup_days, day_scope, heavy=True)
            marks = {day: seen[day] for day in run}
            await db.write(aq.replace_days, app_id, marks, rows, sets, key, now)
            changed += len(run)
        if gone:
            await db.write(aq.drop_days, app_id, sorted(gone))
            changed += len(gone)
    if full:
        await db.write(aq.save_state, app_id, {"full_check_at": now})
    return changed


async def refresh_all(engine: Engine) -> int:
    """Refresh the rollups of every app."""
    total = 0
    for app_id in await engine.db.read(aq.app_ids):
        total += await refresh(engine, app_id)
    return total
