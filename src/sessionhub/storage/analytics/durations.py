"""Duration histograms: the buckets of ``core.analytics.definitions`` in SQL, and their storage.

A session's duration bucket is computed by the database (a CASE that finds the duration's
doubling by binary search, then an integer division), so a raw scan returns one row per
(group, bucket) instead of one per session. Each daily rollup row keeps the histogram of
its sessions as a blob of little-endian int32 pairs (bucket, count), sorted by bucket.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, case, literal, select

from sessionhub.storage.schema import analytics_rollups

SUB_BITS = 7  # 2^7 = 128 buckets per doubling
SUB_BUCKETS = 1 << SUB_BITS
MAX_SHIFT = 40  # durations up to 2^48 ms (8,900 years)

Histogram = dict[int, int]
r = analytics_rollups.c


def bucket_sql(duration: ColumnElement[Any]) -> ColumnElement[int]:
    """The bucket of ``duration`` (ms), as ``definitions.duration_bucket`` gives it."""
    # Segment 0: [.., 2S) exact (negatives as 0); segment n: [S << n, S << (n + 1)), where
    # the bucket is n x S + duration >> n.
    segments: list[ColumnElement[Any]] = [case((duration < 0, 0), else_=duration)]
    bounds: list[int] = [2 * SUB_BUCKETS]
    for shift in range(1, MAX_SHIFT + 1):
        segments.append(shift * SUB_BUCKETS + duration // literal(1 << shift, BigInteger))
        bounds.append(SUB_BUCKETS << (shift + 1))

    def pick(lo: int, hi: int) -> ColumnElement[Any]:
        if hi - lo == 1:
            return segments[lo]
        mid = (lo + hi) // 2
        bound = literal(bounds[mid - 1], BigInteger)
        return case((duration < bound, pick(lo, mid)), else_=pick(mid, hi))

    return pick(0, len(segments))


def encode_histogram(histogram: Histogram) -> bytes:
    """A histogram as stored: (bucket, count) int32 pairs, sorted, little-endian."""
    pairs = array("i")
    for bucket in sorted(histogram):
        pairs.append(bucket)
        pairs.append(histogram[bucket])
    if sys.byteorder != "little":
        pairs.byteswap()
    return pairs.tobytes()


def decode_histogram(blob: bytes) -> Histogram:
    """A stored histogram."""
    if not blob:
        return {}
    pairs = array("i")
    pairs.frombytes(blob)
    if sys.byteorder != "little":
        pairs.byteswap()
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def read_histograms(
    conn: Connection,
    app_id: str,
    dimension: str,
    days: Sequence[int],
    kinds: Sequence[str] | None,
) -> list[tuple[int, str, Any, Histogram | None]]:
    """(day, kind, value, histogram) of the rollup rows of ``dimension`` ("" for totals); the
    histogram is None in rows made before durations were kept."""
    if not days:
        return []
    from sessionhub.storage.analytics.queries import day_runs

    query = select(r.day, r.kind, r.value, r.durations).where(
        r.app_id == app_id, r.dimension == dimension, day_runs(r.day, days)
    )
    if kinds is not None:
        query = query.where(r.kind.in_(kinds))
    return [
        (int(row[0]), str(row[1]), row[2], None if row[3] is None else decode_histogram(row[3]))
        for row in conn.execute(query)
    ]
