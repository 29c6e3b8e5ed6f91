"""Retention: cohorts of users (or devices) by the day or week they were first seen, and
how many of each came back in every later period.

First seen = the start of the entity's first session (of the counted kinds, never bots),
ever; a cohort is in the report when that falls in the date range. Period 0 is the
cohort's own period (everyone), period k counts those with a session starting k periods
later (up to now). Weeks start on Monday, in the app's timezone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sessionhub.core.analytics import calendar as cal
from sessionhub.core.analytics.query import app_range, base_scope
from sessionhub.models.analytics import Cohort, RetentionIn, RetentionResult
from sessionhub.storage.analytics import reports as rq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


def table(
    counts: list[tuple[int, int, int]], granularity: str, periods: int, cohorts: list[int]
) -> list[Cohort]:
    """Cohort rows from (cohort bucket, later bucket, entities) counts."""
    step = 7 if granularity == "week" else 1
    found: dict[int, list[int]] = {c: [0] * (periods + 1) for c in cohorts}
    for cohort, later, n in counts:
        k = (later - cohort) // step
        if cohort in found and 0 <= k <= periods:
            found[cohort][k] += n
    rows = []
    for cohort in cohorts:
        returning = found[cohort]
        size = returning[0]
        rows.append(
            Cohort(
                cohort=cal.bucket_label(granularity, cohort),
                size=size,
                returning=returning,
                rates=[n * 100 / size if size else None for n in returning],
            )
        )
    return rows


async def run(engine: Engine, app_id: str, spec: RetentionIn) -> RetentionResult:
    settings = await engine.apps.settings(app_id)
    zone = ZoneInfo(settings.timezone)
    now = engine.clock.now_ms()
    lo, hi = await app_range(engine, app_id, spec.date_range, zone, now)
    # Offsets up to now: later sessions may come after the range.
    scope = base_scope(
        app_id, settings, lo, max(hi, now + 1), engine.db.dialect, include_bots=spec.include_bots
    )
    counts = await engine.db.read(rq.retention, scope, spec.by, spec.period, lo, hi, heavy=True)
    cohorts = sorted({cohort for cohort, _, _ in counts})
    return RetentionResult(
        by=spec.by, period=spec.period, cohorts=table(counts, spec.period, spec.periods, cohorts)
    )
