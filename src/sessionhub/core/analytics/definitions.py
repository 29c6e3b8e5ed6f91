"""What each metric means, from which parts it is computed, and the rules behind them.

- A session belongs to the period (and local hour, day, week, month) in which it
  **started**; everything in it counts there, so a session is never split between two
  rows and rollups of past days stay whole.
- **Duration** = last activity - start (heartbeats count, so a reader on one page is not 0 s).
- **Median duration**: the median of the durations, each read at the middle of its
  *duration bucket* (below): the middle one, or the mean of the two middle ones. Buckets
  are exact up to 255 ms, then split each doubling into 128 equal parts, so the answer is
  within 1/256 (0.4 %) of the exact median. Daily rollups keep a bucket histogram per
  row, so a median over many days adds histograms instead of reading every session.
- **Bounce**: a visit with at most one page view, no interactive event (action,
  conversion, workflow start or completion) and a duration under the app's
  ``analytics.bounce_threshold_s`` (10 s). Sessions of other kinds never bounce.
- **Engaged session**: more than one page view, an interactive event, or a duration of
  at least the bounce threshold. For visits that is exactly "did not bounce".
- **Visitor**: a device (``device_id``); a session without one counts its user, and one
  with neither counts as its own visitor.
- **Conversion**: a ``conversion`` event, or one of the events the query (or the app's
  ``analytics.conversion_events``) names.
- By default only sessions of kind ``visit`` count, and never bots. A filter or a
  breakdown on ``kind`` lifts the kind default; ``include_bots`` the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sessionhub.models.analytics import METRICS
from sessionhub.storage.analytics.durations import SUB_BITS

Parts = dict[str, int]
Value = int | float | None

# The parts each metric is computed from (median_duration comes from duration histograms).
NEEDS: dict[str, tuple[str, ...]] = {
    "sessions": ("sessions",),
    "visitors": ("visitors",),
    "users": ("users",),
    "page_views": ("page_views",),
    "events": ("events",),
    "views_per_session": ("sessions", "page_views"),
    "actions_per_session": ("sessions", "actions"),
    "bounce_rate": ("sessions", "bounces"),
    "avg_duration": ("sessions", "duration_ms"),
    "median_duration": (),
    "error_rate": ("sessions", "errored"),
    "conversion_rate": ("sessions", "converted"),
    "engaged_sessions": ("engaged",),
}
# Metrics whose value is a rate in percent, an average, or a count.
PERCENT = ("bounce_rate", "error_rate", "conversion_rate")
COUNTS = ("sessions", "visitors", "users", "page_views", "events", "engaged_sessions")


def _ratio(numerator: int, denominator: int, scale: float = 1.0) -> float | None:
    return numerator * scale / denominator if denominator else None


FORMULAS: dict[str, Callable[[Parts], Value]] = {
    "sessions": lambda p: p.get("sessions", 0),
    "visitors": lambda p: p.get("visitors", 0),
    "users": lambda p: p.get("users", 0),
    "page_views": lambda p: p.get("page_views", 0),
    "events": lambda p: p.get("events", 0),
    "views_per_session": lambda p: _ratio(p["page_views"], p["sessions"]),
    "actions_per_session": lambda p: _ratio(p["actions"], p["sessions"]),
    "bounce_rate": lambda p: _ratio(p["bounces"], p["sessions"], 100),
    "avg_duration": lambda p: _ratio(p["duration_ms"], p["sessions"], 0.001),
    "error_rate": lambda p: _ratio(p["errored"], p["sessions"], 100),
    "conversion_rate": lambda p: _ratio(p["converted"], p["sessions"], 100),
    "engaged_sessions": lambda p: p.get("engaged", 0),
}
assert set(FORMULAS) | {"median_duration"} == set(METRICS)


def parts_for(metrics: Iterable[str]) -> set[str]:
    """The parts a list of metrics needs."""
    return {part for metric in metrics for part in NEEDS[metric]}


def compute(metrics: Iterable[str], parts: Parts, median_ms: float | None) -> dict[str, Value]:
    """The metrics' values from the parts of one group."""
    values: dict[str, Value] = {}
    for metric in metrics:
        if metric == "median_duration":
            values[metric] = median_ms / 1000 if median_ms is not None else None
        else:
            values[metric] = FORMULAS[metric](parts)
    return values


def add(into: Parts, parts: Parts) -> None:
    for name, value in parts.items():
        into[name] = into.get(name, 0) + value


# -- median duration ------------------------------------------------------------------------
#
# A duration d (ms, >= 0) falls in bucket d while d < 256; above, with shift = bit_length(d) - 8
# (so d >> shift is in [128, 256)), in bucket 128 x shift + (d >> shift). A bucket then spans
# 2^shift ms starting at (d >> shift) << shift >= 128 x 2^shift: at most 1/128 of its start.
# Its middle is at most half that, 1/256, from any duration in it; the median of the middles
# is as close to the exact median (a mean of two middles is as close to the mean of the two).

SUB_BUCKETS = 1 << SUB_BITS  # 128 buckets per doubling of the duration (SQL: durations.py)
MEDIAN_ERROR = 1 / (2 * SUB_BUCKETS)  # the largest relative error of a median
Histogram = dict[int, int]  # bucket -> sessions


def duration_bucket(duration_ms: int) -> int:
    """The bucket of a duration (negative ones, which the engine never stores, count as 0)."""
    if duration_ms < 2 * SUB_BUCKETS:
        return max(duration_ms, 0)
    shift = duration_ms.bit_length() - 1 - SUB_BITS
    return shift * SUB_BUCKETS + (duration_ms >> shift)


def bucket_middle(bucket: int) -> float:
    """The duration (ms) a bucket stands for: the middle of the whole milliseconds in it."""
    if bucket < 2 * SUB_BUCKETS:
        return float(bucket)
    shift = bucket // SUB_BUCKETS - 1
    start = (bucket - shift * SUB_BUCKETS) << shift
    return start + ((1 << shift) - 1) / 2


def add_histogram(into: Histogram, other: Histogram) -> None:
    for bucket, count in other.items():
        into[bucket] = into.get(bucket, 0) + count


def histogram_median(histogram: Histogram) -> float | None:
    """The median duration (ms) of a histogram: the middle bucket's middle, or the mean of
    the two middle ones; None when it is empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    low, high = (total + 1) // 2, (total + 2) // 2  # 1-based ranks of the middle ones
    found: list[float] = []
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        while len(found) < 2 and seen >= (low, high)[len(found)]:
            found.append(bucket_middle(bucket))
        if len(found) == 2:
            break
    return (found[0] + found[1]) / 2


# -- engagement score ------------------------------------------------------------------------

# A session's engagement score, 0-100:
#   35 x min(engaged time / 5 min, 1)
# + 25 x min(page views / 5, 1)
# + 25 x min((actions + workflow starts) / 10, 1)
# + 15 if it converted or completed a workflow
# then x (1 - 0.5 x min(errors / 5, 1)): errors halve it at most.
# A user's score is the mean over their recent sessions.
SCORE_WEIGHTS = {"time": 35.0, "pages": 25.0, "actions": 25.0, "success": 15.0}


def engagement_score(
    engaged_ms: int, page_views: int, actions: int, succeeded: bool, errors: int
) -> float:
    """A session's engagement score, 0-100 (see the formula above)."""
    score = (
        SCORE_WEIGHTS["time"] * min(engaged_ms / 300_000, 1.0)
        + SCORE_WEIGHTS["pages"] * min(page_views / 5, 1.0)
        + SCORE_WEIGHTS["actions"] * min(actions / 10, 1.0)
        + (SCORE_WEIGHTS["success"] if succeeded else 0.0)
    )
    return round(score * (1 - 0.5 * min(errors / 5, 1.0)), 2)
