"""Daily rollups: whole past days read from rollups give the raw scan's answers, the job
is idempotent, and late events, new sessions and setting changes reach their day."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from sessionhub import Engine, FakeClock
from sessionhub.clock import iso
from sessionhub.models.analytics import METRICS
from sessionhub.storage.schema import analytics_rollups
from sessionhub.worker import Worker
from tests.analytics.dataset import Dataset, load
from tests.analytics.helpers import send

ROLLED_METRICS = list(METRICS)  # the median too: from duration histograms
# Always true, but a filter: the question is answered by a raw scan.
RAW = {"dimension": "country", "op": "is_not", "value": "ZZ"}
SHAPES: list[dict[str, Any]] = [
    {"dimensions": []},
    {"dimensions": ["source"]},
    {"dimensions": ["entry_page"]},
    {"dimensions": ["time:day"]},
    {"dimensions": ["time:week"]},
    {"dimensions": ["time:month", "country"]},
    {"dimensions": ["time:day", "device_type"]},
    {"dimensions": ["kind"]},
    {"dimensions": ["time:day", "kind"]},
]


async def _both(engine: Engine, app_id: str, spec: dict[str, Any]) -> tuple[Any, Any]:
    """(answer using rollups, answer of a raw scan) of one question."""
    rolled = await engine.query(app_id, {**spec, "limit": 10_000})
    raw = await engine.query(app_id, {**spec, "filters": [RAW], "limit": 10_000})
    return rolled, raw


def _rows(result: Any) -> dict[str, Any]:
    return {str(sorted(row.dimensions.items())): row.metrics for row in result.rows}


def _rollup_rows(conn: Connection) -> list[Any]:
    return list(conn.execute(select(analytics_rollups).order_by(*analytics_rollups.c)))


@pytest.mark.parametrize("date_range", ["30d", "12mo", {"from": "2026-03-20", "to": "2026-04-03"}])
async def test_queries_over_past_days_from_rollups_equal_a_raw_scan(
    engine: Engine, date_range: Any
) -> None:
    """With rollups in place, each question over whole past days plus today reads the
    rollups and answers exactly what a raw scan answers."""
    data = await load(engine)
    assert 0 < await engine.analytics.refresh_rollups(data.app_id)
    for shape in SHAPES:
        spec = {"metrics": ROLLED_METRICS, "date_range": date_range, **shape}
        rolled, raw = await _both(engine, data.app_id, spec)
        assert (True, 0) == (rolled.rollup_days > 0, raw.rollup_days)
        assert (raw.totals, _rows(raw)) == (rolled.totals, _rows(rolled))


async def test_refreshing_twice_changes_nothing(engine: Engine) -> None:
    """A second refresh with no new data recomputes no day and leaves the rollups as they were."""
    data = await load(engine)
    await engine.analytics.refresh_rollups(data.app_id)
    before = await engine.db.read(_rollup_rows)
    assert 0 == await engine.analytics.refresh_rollups(data.app_id)
    assert before == await engine.db.read(_rollup_rows)


async def test_a_late_event_recomputes_its_day(engine: Engine, clock: FakeClock) -> None:
    """An event arriving today for yesterday starts a session yesterday; the next worker run
    recomputes that day and the rollup answer again equals the raw scan."""
    data: Dataset = await load(engine)
    spec = {"metrics": ROLLED_METRICS, "dimensions": ["time:day"], "date_range": "7d"}
    await Worker(engine).run_once()
    yesterday = iso(clock.now_ms() - 86_400_000)
    result = await engine.events.ingest(
        data.app_id,
        [{"device_id": "late", "type": "page_view", "path": "/late", "timestamp": yesterday}],
    )
    assert 1 == result.accepted
    stale, raw = await _both(engine, data.app_id, spec)
    assert raw.totals["sessions"] - 1 == stale.totals["sessions"]  # until the worker runs
    done = await Worker(engine).run_once()
    assert 1 == done["rollup_analytics"]
    rolled, raw = await _both(engine, data.app_id, spec)
    assert (raw.totals, _rows(raw)) == (rolled.totals, _rows(rolled))
    assert 0 < rolled.rollup_days


async def test_changing_the_bounce_rule_stops_stale_rollups_until_recomputed(
    engine: Engine,
) -> None:
    """After the bounce threshold changes, no rollup computed under the old rule is read;
    after a refresh they are read again and match the raw scan under the new rule."""
    data = await load(engine)
    await engine.analytics.refresh_rollups(data.app_id)
    await engine.apps.update(data.app_id, settings={"analytics": {"bounce_threshold_s": 30}})
    spec = {"metrics": ["sessions", "bounce_rate"], "dimensions": ["source"], "date_range": "30d"}
    stale = await engine.query(data.app_id, spec)
    assert 0 == stale.rollup_days
    await engine.analytics.refresh_rollups(data.app_id)
    rolled, raw = await _both(engine, data.app_id, spec)
    assert (True, raw.totals, _rows(raw)) == (
        rolled.rollup_days > 0,
        rolled.totals,
        _rows(rolled),
    )


async def test_the_rollups_hold_the_daily_session_stats(engine: Engine) -> None:
    """The daily stats (the tracking spec's daily_session_stats) come out the same whether
    read from rollups or scanned."""
    data = await load(engine)
    scanned = await engine.analytics.daily_stats(data.app_id, "month")
    await engine.analytics.refresh_rollups(data.app_id)
    rolled = await engine.analytics.daily_stats(data.app_id, "month")
    count = await engine.db.read(
        lambda conn: conn.execute(select(func.count()).select_from(analytics_rollups)).scalar()
    )
    assert (True, scanned) == (count > 0, rolled)


async def test_visitors_over_many_days_count_each_device_and_user_once(
    engine: Engine, clock: FakeClock
) -> None:
    """Over rolled-up days plus today's raw sessions, a device (or user) seen on several days
    is one visitor, and one first seen today (not numbered yet) is one more."""
    app_id = (await engine.apps.create("sets")).id
    for device in ("d1", "d2", "d1"):  # three days: d1 twice, d2 once
        await send(engine, clock, app_id, device, "page_view", path="/", user="u-" + device)
        clock.advance(86_400)
    await send(engine, clock, app_id, "d4", "page_view", path="/")  # no user
    assert 0 < await engine.analytics.refresh_rollups(app_id, full=True)
    await send(engine, clock, app_id, "d2", "page_view", path="/", after=60, user="u-d2")
    await send(engine, clock, app_id, "d3", "page_view", path="/", after=60, user="u-d3")
    spec = {"metrics": ["sessions", "visitors", "users"], "date_range": "7d"}
    rolled, raw = await _both(engine, app_id, spec)
    assert (True, {"sessions": 6, "visitors": 4, "users": 3}) == (
        rolled.rollup_days > 0,
        rolled.totals,
    )
    assert raw.totals == rolled.totals
