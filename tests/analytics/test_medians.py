"""The median duration: read from duration buckets within 1/256 of the exact median, the
same buckets in Python and in SQL, and the same answer from rollups and from a raw scan."""

from __future__ import annotations

import statistics
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Connection, func, literal, select, update

from sessionhub import Engine, FakeClock
from sessionhub.core.analytics.definitions import (
    MEDIAN_ERROR,
    bucket_middle,
    duration_bucket,
    histogram_median,
)
from sessionhub.storage.analytics.durations import bucket_sql, decode_histogram, encode_histogram
from sessionhub.storage.schema import analytics_days, analytics_rollups
from sessionhub.worker import Worker
from tests.analytics.dataset import load
from tests.analytics.helpers import send

DURATIONS = st.integers(min_value=0, max_value=10 * 86_400_000)
# Every bucket edge up to 2^40 ms, one either side of it, and some plain values.
EDGES = sorted(
    {
        v
        for shift in range(0, 33)
        for m in (128, 129, 200, 255)
        for v in ((m << shift) - 1, m << shift, (m << shift) + 1)
    }
    | {0, 1, 7, 127, 999, 1000, 59_999, 86_400_000}
)


@given(DURATIONS)
def test_a_bucket_stands_for_its_durations_within_the_bound(duration: int) -> None:
    """The middle of a duration's bucket is within 1/256 of the duration (exact below 256 ms),
    and buckets keep the order of durations."""
    middle = bucket_middle(duration_bucket(duration))
    assert abs(middle - duration) <= duration * MEDIAN_ERROR
    if duration < 256:
        assert middle == duration
    assert duration_bucket(duration) <= duration_bucket(duration + 1)


@settings(max_examples=300)
@given(st.lists(DURATIONS, min_size=1, max_size=60))
def test_the_histogram_median_is_within_the_bound_of_the_exact_median(
    durations: list[int],
) -> None:
    """The median of a histogram is within MEDIAN_ERROR (0.4 %) of the exact median, and is
    the median of the bucket middles (the mean of the two middle ones for an even count)."""
    histogram: dict[int, int] = {}
    for duration in durations:
        bucket = duration_bucket(duration)
        histogram[bucket] = histogram.get(bucket, 0) + 1
    got = histogram_median(histogram)
    assert got is not None
    exact = statistics.median(durations)
    assert abs(got - exact) <= exact * MEDIAN_ERROR + 1e-9
    middles = [bucket_middle(duration_bucket(d)) for d in durations]
    assert statistics.median(middles) == got
    assert {} == decode_histogram(b"")
    assert histogram == decode_histogram(encode_histogram(histogram))


def test_an_empty_histogram_has_no_median() -> None:
    """No sessions: no median (the API's null), not 0."""
    assert (None, None) == (histogram_median({}), histogram_median({5: 0}))


async def test_the_database_puts_durations_in_the_same_buckets(engine: Engine) -> None:
    """The SQL bucket expression gives Python's bucket for every edge case, on both backends."""

    def buckets(conn: Connection) -> list[int]:
        values = [literal(v, BigInteger) for v in EDGES]
        return [int(conn.execute(select(bucket_sql(v))).scalar_one()) for v in values]

    assert [duration_bucket(v) for v in EDGES] == await engine.db.read(buckets)


async def test_median_by_dimension_and_day_from_rollups_equals_a_raw_scan(
    engine: Engine,
) -> None:
    """Medians per source, per day and in total read from rollup histograms are the raw
    scan's, and rollups really were read."""
    data = await load(engine)
    await engine.analytics.refresh_rollups(data.app_id)
    raw_filter = {"dimension": "country", "op": "is_not", "value": "ZZ"}
    for dimensions in (["source"], ["time:day"], [], ["kind"]):
        spec: dict[str, Any] = {
            "metrics": ["median_duration", "sessions"],
            "dimensions": dimensions,
            "date_range": "30d",
            "compare": {"previous": True},
            "limit": 1000,
        }
        rolled = await engine.query(data.app_id, spec)
        raw = await engine.query(data.app_id, {**spec, "filters": [raw_filter]})
        assert (True, 0) == (rolled.rollup_days > 0, raw.rollup_days)
        assert raw.totals == rolled.totals
        assert rolled.totals["median_duration"] is not None
        assert [r.metrics for r in raw.rows] == [r.metrics for r in rolled.rows]
        assert raw.compare is not None
        assert rolled.compare is not None
        assert raw.compare.totals == rolled.compare.totals


async def test_days_rolled_up_before_histograms_are_read_raw_for_the_median(
    engine: Engine, clock: FakeClock
) -> None:
    """Rollup rows without a histogram (made before they were kept) still give the right
    median: those days are read raw, and a refresh after the upgrade fills them in."""
    app_id = (await engine.apps.create("legacy")).id
    for seconds in (5, 20, 100, 400, 40):  # one session a day, durations 5 s .. 400 s
        await send(engine, clock, app_id, f"d{seconds}", "page_view", path="/")
        await send(engine, clock, app_id, f"d{seconds}", "action", after=seconds)
        clock.advance(86_400)
    assert 0 < await engine.analytics.refresh_rollups(app_id, full=True)
    spec = {"metrics": ["median_duration"], "date_range": "7d"}
    before = await engine.query(app_id, spec)

    def forget(conn: Connection) -> None:  # what migration 0011 leaves behind
        conn.execute(update(analytics_rollups).values(durations=None))
        conn.execute(update(analytics_days).values(fingerprint="before-durations"))

    def missing(conn: Connection) -> int:
        query = select(func.count()).where(analytics_rollups.c.durations.is_(None))
        return int(conn.execute(query).scalar_one())

    await engine.db.write(forget)
    after = await engine.query(app_id, spec)
    assert 0 < await engine.db.read(missing)
    await engine.analytics.refresh_rollups(app_id, full=True)
    refreshed = await engine.query(app_id, spec)
    expected = bucket_middle(duration_bucket(40_000)) / 1000  # the middle of 5, 20, 40, 100, 400 s
    assert (True, expected, expected, expected, 0) == (
        before.rollup_days > 0,
        before.totals["median_duration"],
        after.totals["median_duration"],
        refreshed.totals["median_duration"],
        await engine.db.read(missing),
    )


async def test_the_worker_keeps_a_histogram_of_every_rollup_row(engine: Engine) -> None:
    """After a worker run, each rollup row's histogram counts exactly its sessions."""
    data = await load(engine)
    await Worker(engine).run_once()

    def rows(conn: Connection) -> list[tuple[int, bytes | None]]:
        table = analytics_rollups.c
        query = select(table.sessions, table.durations).where(table.app_id == data.app_id)
        return [(int(row[0]), row[1]) for row in conn.execute(query)]

    found = await engine.db.read(rows)
    counted = [
        (n, sum(decode_histogram(blob).values()) if blob is not None else None) for n, blob in found
    ]
    assert (True, [n for n, _ in counted]) == (len(found) > 0, [c for _, c in counted])


@pytest.mark.parametrize("value", ["google", ["direct", None], "nowhere"])
async def test_a_median_filtered_by_one_rolled_up_dimension_reads_its_rows(
    engine: Engine, value: Any
) -> None:
    """A median whose only filter is ``is`` on a rolled-up dimension (the dashboard's filter
    chips) reads that dimension's rollup histograms and equals the raw scan's."""
    data = await load(engine)
    await engine.analytics.refresh_rollups(data.app_id)
    source = {"dimension": "source", "op": "is", "value": value}
    always = {"dimension": "country", "op": "is_not", "value": "ZZ"}
    for dimensions in ([], ["time:day"]):
        spec: dict[str, Any] = {
            "metrics": ["median_duration", "sessions"],
            "dimensions": dimensions,
            "filters": [source],
            "date_range": "30d",
            "compare": {"previous": True},
            "limit": 1000,
        }
        rolled = await engine.query(data.app_id, spec)
        raw = await engine.query(data.app_id, {**spec, "filters": [source, always]})
        assert (True, 0) == (rolled.rollup_days > 0, raw.rollup_days)
        assert raw.totals == rolled.totals
        assert [r.metrics for r in raw.rows] == [r.metrics for r in rolled.rows]
        assert raw.compare is not None
        assert rolled.compare is not None
        assert raw.compare.totals == rolled.compare.totals
