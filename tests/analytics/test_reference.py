"""The reference test: every metric, by many dimensions, under many filters and ranges,
on both backends, equals what plain Python computes over the raw generated rows.

Counts must match exactly; averages, rates and medians to 1e-9 (relative), the float
rounding of doing the same division in another order.
"""

from __future__ import annotations

import math
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sessionhub import Engine
from sessionhub.models.analytics import METRICS
from tests.analytics import reference
from tests.analytics.dataset import NOW, TIMEZONE, Dataset, load

ZONE = ZoneInfo(TIMEZONE)
DIMENSIONS: list[list[str]] = [
    [],
    ["source"],
    ["medium"],
    ["country"],
    ["entry_page"],
    ["exit_page"],
    ["campaign"],
    ["referrer_domain"],
    ["kind"],
    ["user_pattern"],
    ["device_type", "browser"],
    ["os"],
    ["time:hour"],
    ["time:day"],
    ["time:week"],
    ["time:month"],
    ["time:day", "source"],
    ["page"],
    ["event"],
    ["page", "country"],
]
FILTERS: list[list[dict[str, Any]]] = [
    [],
    [{"dimension": "country", "op": "is", "value": "DE"}],
    [{"dimension": "country", "op": "is_not", "value": ["DE", None]}],
    [{"dimension": "source", "op": "contains", "value": "o"}],
    [{"dimension": "page", "op": "matches", "value": "^/blog"}],
    [{"dimension": "event", "op": "is", "value": "signup"}],
    [{"did": {"event": "conversion", "where": [{"field": "properties.plan", "value": "pro"}]}}],
    [{"not": {"did": {"event": "error"}}}],
    [
        {
            "or": [
                {"dimension": "device_type", "value": "mobile"},
                {
                    "and": [
                        {"dimension": "country", "value": None},
                        {"dimension": "entry_page", "op": "contains", "value": "blog"},
                    ]
                },
            ]
        }
    ],
    [{"dimension": "kind", "op": "is_not", "value": "work"}],
    [{"dimension": "user_pattern", "value": "power_user"}],
    [
        {"did": {"event": "error", "where": [{"field": "properties.fatal", "value": "true"}]}},
        {
            "did": {
                "event": "action",
                "where": [{"field": "properties.qty", "op": "is_not", "value": "2"}],
            }
        },
    ],
]
RANGES: list[Any] = [
    "today",
    "24h",
    "7d",
    "month",
    "12mo",
    "all",
    {"from": "2026-03-20", "to": "2026-04-02"},  # across the DST change
    {"from": "2026-03-29T00:30:00Z", "to": "2026-03-29T05:00:00+02:00"},
]


def _close(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is actual
    if isinstance(expected, int) and isinstance(actual, int):
        return expected == actual
    return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)


async def _mismatches(engine: Engine, data: Dataset, spec: dict[str, Any]) -> list[str]:
    result = await engine.query(data.app_id, {**spec, "limit": 10_000})
    expected_totals, expected_rows = reference.answer(data, spec, NOW, ZONE)
    problems = []
    for name, value in expected_totals.items():
        if not _close(value, result.totals[name]):
            problems.append(f"{spec}: total {name} {value} != {result.totals[name]}")
    dims = spec.get("dimensions", [])
    got = {
        tuple(row.dimensions[d] for d in dims): row.metrics
        for row in result.rows
        if row.metrics.get("sessions", 1) != 0
    }
    if set(expected_rows) != set(got):
        problems.append(
            f"{spec}: rows {sorted(map(str, expected_rows))} != {sorted(map(str, got))}"
        )
        return problems
    for key, values in expected_rows.items():
        for name, value in values.items():
            if not _close(value, got[key][name]):
                problems.append(f"{spec}: {key} {name} {value} != {got[key][name]}")
    return problems


async def test_every_metric_by_every_dimension_and_filter_matches_the_reference(
    engine: Engine,
) -> None:
    """Each metric, broken down by each dimension under each filter (30 days), equals the
    brute-force answer over the raw rows."""
    data = await load(engine)
    problems: list[str] = []
    for dims in DIMENSIONS:
        for filters in FILTERS:
            spec = {
                "metrics": list(METRICS),
                "dimensions": dims,
                "filters": filters,
                "date_range": "30d",
            }
            problems.extend(await _mismatches(engine, data, spec))
    assert [] == problems[:20]


@pytest.mark.parametrize("date_range", RANGES, ids=[str(r) for r in RANGES])
async def test_every_date_range_matches_the_reference(engine: Engine, date_range: Any) -> None:
    """Named and explicit ranges (dates in the app's timezone, across a DST change) cover
    exactly the sessions the reference puts in them, by day and by hour."""
    data = await load(engine)
    problems: list[str] = []
    for dims in (["time:day"], ["time:hour"], ["country"], ["page"]):
        spec = {"metrics": list(METRICS), "dimensions": dims, "date_range": date_range}
        problems.extend(await _mismatches(engine, data, spec))
    assert [] == problems[:20]


async def test_bots_and_named_conversions_follow_the_reference(engine: Engine) -> None:
    """include_bots counts crawler sessions; conversion_events count sessions that did a named
    event as converted."""
    data = await load(engine)
    problems: list[str] = []
    for extra in ({"include_bots": True}, {"conversion_events": ["signup"]}):
        for dims in ([], ["source"], ["page"]):
            spec = {"metrics": list(METRICS), "dimensions": dims, "date_range": "30d", **extra}
            problems.extend(await _mismatches(engine, data, spec))
    assert [] == problems[:20]


@pytest.mark.parametrize(
    "dimension",
    ["source", "country", "entry_page", "device_type", "kind", "user_pattern", "time:day"],
)
async def test_a_breakdowns_rows_add_up_to_the_total(engine: Engine, dimension: str) -> None:
    """Summed over a session dimension's rows, sessions, page views, bounces and engaged
    sessions equal the totals."""
    data = await load(engine)
    result = await engine.query(
        data.app_id,
        {
            "metrics": ["sessions", "page_views", "events", "engaged_sessions"],
            "dimensions": [dimension],
            "date_range": "30d",
            "limit": 10_000,
        },
    )
    summed = {
        name: sum(int(row.metrics[name] or 0) for row in result.rows)
        for name in ("sessions", "page_views", "events", "engaged_sessions")
    }
    assert result.totals == summed
