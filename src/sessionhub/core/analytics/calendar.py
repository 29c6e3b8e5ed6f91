"""Local days, weeks and months of an app's timezone, as plain numbers SQL can bucket with.

SQLite knows no timezones, so the databases never convert times: Python works out the
UTC offsets in force over a range (a short list, changing at DST transitions), the SQL
adds the right one to each start time and divides. Both backends run the same
arithmetic and so put every session in the same local hour, day, week and month.

A *day number* counts days since 1970-01-01 in local time; an *hour number* hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_EPOCH = date(1970, 1, 1)
# The earliest and latest instants considered: a range is clamped to these.
MIN_MS = 0
MAX_MS = 4_102_444_800_000  # 2100-01-01


def offset_ms(zone: ZoneInfo, ms: int) -> int:
    """The zone's UTC offset at the instant ``ms``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone)
    delta = moment.utcoffset() or timedelta(0)
    return int(delta.total_seconds() * 1000)


def offsets(zone: ZoneInfo, lo: int, hi: int) -> list[tuple[int, int]]:
    """[(from_ms, offset_ms)]: the offset in force from each instant on, over [lo, hi)."""
    lo, hi = max(lo, MIN_MS), min(max(hi, lo + 1), MAX_MS)
    found = [(lo, offset_ms(zone, lo))]
    step = 6 * HOUR_MS  # offsets never change twice within 6 hours
    at = lo
    while at < hi:
        nxt = min(at + step, hi)
        if offset_ms(zone, nxt) != found[-1][1]:
            a, b = at, nxt  # the change is in (a, b]
            while b - a > 1000:
                mid = (a + b) // 2
                if offset_ms(zone, mid) == found[-1][1]:
                    a = mid
                else:
                    b = mid
            found.append((b - b % 1000, offset_ms(zone, b)))
        at = nxt
    return found


def local_day(zone: ZoneInfo, ms: int) -> int:
    """The local day number of the instant ``ms``."""
    return (ms + offset_ms(zone, ms)) // DAY_MS


def day_start(zone: ZoneInfo, day: int) -> int:
    """The first instant (UTC ms) of local day number ``day``."""
    local = _EPOCH + timedelta(days=day)
    naive = datetime(local.year, local.month, local.day)
    guess = int(naive.replace(tzinfo=zone).timestamp() * 1000)
    # A day starting inside a DST gap starts when the clock jumps: the first instant whose
    # local date is ``day``.
    while local_day(zone, guess) < day:
        guess += HOUR_MS // 4
    while local_day(zone, guess - 1) >= day:
        guess -= HOUR_MS // 4
    return guess


def to_date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


def from_date(value: date) -> int:
    return (value - _EPOCH).days


def week_of(day: int) -> int:
    """The day number of the Monday starting the week of ``day`` (1970-01-01 was a Thursday)."""
    return day - (day + 3) % 7


def month_of(day: int) -> int:
    """The day number of the first day of the month of ``day``."""
    value = to_date(day)
    return from_date(value.replace(day=1))


def month_starts(first_day: int, last_day: int) -> list[int]:
    """Day numbers of the first days of every month from ``first_day``'s to ``last_day``'s."""
    starts = []
    current = to_date(month_of(first_day))
    end = to_date(last_day)
    while current <= end:
        starts.append(from_date(current))
        current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


@dataclass(frozen=True, slots=True)
class Calendar:
    """What the SQL needs to bucket start times over one range: offsets and month starts."""

    offsets: tuple[tuple[int, int], ...]
    months: tuple[int, ...]

    @classmethod
    def over(cls, zone: ZoneInfo, lo: int, hi: int) -> Calendar:
        found = offsets(zone, lo, hi)
        first, last = local_day(zone, max(lo, MIN_MS)), local_day(zone, min(hi, MAX_MS))
        return cls(tuple(found), tuple(month_starts(first, last)))


def bucket_of(granularity: str, local_ms: int) -> int:
    """The bucket (hour number, or day number of the bucket's first day) of a local time."""
    if granularity == "hour":
        return local_ms // HOUR_MS
    day = local_ms // DAY_MS
    if granularity == "day":
        return day
    if granularity == "week":
        return week_of(day)
    return month_of(day)


def bucket_label(granularity: str, bucket: int) -> str:
    """How a bucket is shown: ``2026-01-31T14:00`` (hour), ``2026-01-31`` (day, week: its
    Monday) or ``2026-01`` (month), in local time."""
    if granularity == "hour":
        moment = datetime(1970, 1, 1) + timedelta(hours=bucket)
        return moment.strftime("%Y-%m-%dT%H:00")
    if granularity == "month":
        return to_date(bucket).strftime("%Y-%m")
    return to_date(bucket).isoformat()


def buckets_between(granularity: str, zone: ZoneInfo, lo: int, hi: int) -> list[int]:
    """Every bucket that an instant in [lo, hi) falls in, in order."""
    if hi <= lo:
        return []
    first = (lo + offset_ms(zone, lo)) if lo >= MIN_MS else 0
    last = (hi - 1) + offset_ms(zone, hi - 1)
    if granularity == "hour":
        return list(range(first // HOUR_MS, last // HOUR_MS + 1))
    days = range(first // DAY_MS, last // DAY_MS + 1)
    seen: list[int] = []
    for day in days:
        bucket = bucket_of(granularity, day * DAY_MS)
        if not seen or seen[-1] != bucket:
            seen.append(bucket)
    return seen


def bucket_of_instant(granularity: str, zone: ZoneInfo, ms: int) -> int:
    return bucket_of(granularity, ms + offset_ms(zone, ms))
