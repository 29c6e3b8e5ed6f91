"""Funnels: how many sessions (or users) went through ordered steps, and how fast.

Within a session, each session is followed from its first event of step 1: each later
step is the first matching event after the one before (the earliest path, which also
reaches the furthest). Within ``window_days`` per user (else device), every event of
step 1 is tried as a start, the steps must all happen within the window after it, and
the start that reaches furthest (earliest on a tie) counts. One event meets one step.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sessionhub.core.analytics.query import app_range, base_scope, period, segment_sources
from sessionhub.models.analytics import FunnelIn, FunnelResult, FunnelStep, FunnelStepResult
from sessionhub.storage.analytics import reports as rq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

DAY_MS = 86_400_000


def walk(events: Sequence[tuple[int, int]], steps: int, deadline_ms: int | None) -> list[int]:
    """The times at which the steps were reached along the best path through ``events``
    ((time, step mask), in order)."""
    if deadline_ms is None:
        return _greedy(events, 0, steps, None)
    best: list[int] = []
    for index, (at, mask) in enumerate(events):
        if not mask & 1:
            continue
        path = _greedy(events, index, steps, at + deadline_ms)
        if len(path) > len(best):
            best = path
            if len(best) == steps:
                break
    return best


def walk_sessions(rows: Iterable[Sequence[Any]], steps: int) -> list[list[int]]:
    """The path (times the steps were reached) of each session that reached step 1, from
    rows (session, time, step mask) with each session's together and in order: one pass."""
    paths: list[list[int]] = []
    current: Any = None
    times: list[int] = []
    stage = steps
    for who, at, mask in rows:
        if who != current:
            current, times, stage = who, [], 0
        if stage < steps and mask >> stage & 1:
            if not stage:
                paths.append(times)
            times.append(at)
            stage += 1
    return paths


def walk_users(rows: Iterable[Sequence[Any]], steps: int, deadline_ms: int) -> list[list[int]]:
    """The best path of each user (or device) that reached step 1 within the window, from
    rows (entity, time, step mask) with each entity's together and in order."""
    paths = []
    for _, group in groupby(rows, key=itemgetter(0)):
        path = walk([(at, mask) for _, at, mask in group], steps, deadline_ms)
        if path:
            paths.append(path)
    return paths


def _greedy(
    events: Sequence[tuple[int, int]], start: int, steps: int, deadline: int | None
) -> list[int]:
    times: list[int] = []
    for at, mask in events[start:]:
        if deadline is not None and at > deadline:
            break
        if mask & (1 << len(times)):
            times.append(at)
            if len(times) == steps:
                break
    return times


def label(step: FunnelStep) -> str:
    if step.label:
        return step.label
    return step.page if step.page is not None else step.event or ""


def summarize(paths: list[list[int]], steps: Sequence[FunnelStep]) -> list[FunnelStepResult]:
    """Per step: count, conversion from the first and the previous, drop-off, median time on."""
    counts = [sum(1 for p in paths if len(p) > i) for i in range(len(steps))]
    results = []
    for i, step in enumerate(steps):
        gaps = [(p[i + 1] - p[i]) / 1000 for p in paths if len(p) > i + 1]
        previous = counts[i - 1] if i else counts[0]
        results.append(
            FunnelStepResult(
                step=i + 1,
                label=label(step),
                count=counts[i],
                conversion_from_first=counts[i] * 100 / counts[0] if counts[0] else None,
                conversion_from_previous=counts[i] * 100 / previous if previous else None,
                drop_off=previous - counts[i] if i else 0,
                median_time_to_next_s=statistics.median(gaps) if gaps else None,
            )
        )
    return results


async def run(engine: Engine, app_id: str, spec: FunnelIn) -> FunnelResult:
    settings = await engine.apps.settings(app_id)
    now = engine.clock.now_ms()
    lo, hi = await app_range(engine, app_id, spec.date_range, ZoneInfo(settings.timezone), now)
    scope = base_scope(
        app_id,
        settings,
        lo,
        hi,
        engine.db.dialect,
        filters=spec.filters,
        include_bots=spec.include_bots,
        segments=await segment_sources(engine, app_id, spec.filters),
    )
    consume: Callable[[Iterable[Sequence[Any]]], list[list[int]]] = (
        partial(walk_sessions, steps=len(spec.steps))
        if spec.within == "session"
        else partial(walk_users, steps=len(spec.steps), deadline_ms=spec.window_days * DAY_MS)
    )
    paths = await engine.db.read(
        rq.funnel_events, scope, spec.steps, spec.within, consume, heavy=True
    )
    return FunnelResult(
        within=spec.within, date_range=period(lo, hi), steps=summarize(paths, spec.steps)
    )
