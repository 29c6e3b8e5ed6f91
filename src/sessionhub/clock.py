"""The clock the engine reads time from: the system's, or a fake one tests move by hand."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time in milliseconds since the epoch (UTC)."""

    def now_ms(self) -> int: ...


class SystemClock:
    """The real wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that only moves when told to, so tests advance time instead of sleeping."""

    def __init__(self, start: datetime | int | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 1, tzinfo=UTC)
        self._now = start if isinstance(start, int) else to_ms(start)

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float = 0, *, ms: int = 0) -> None:
        """Move time forward by ``seconds`` (and ``ms``)."""
        self._now += round(seconds * 1000) + ms

    def set(self, when: datetime | int) -> None:
        """Jump to an absolute time."""
        self._now = when if isinstance(when, int) else to_ms(when)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(when: datetime) -> int:
    """Convert an aware datetime to epoch milliseconds (naive ones are taken as UTC).

    In integers, so exact: ``int(when.timestamp() * 1000)`` went through a float and gave
    one millisecond less for some times (1987-05-29T10:33:02.782Z, say), and was slower.
    The difference's fields, not ``// timedelta(milliseconds=1)``: 0.14 µs less.
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    since = when - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000


def from_ms(ms: int) -> datetime:
    """Convert epoch milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso(ms: int | None) -> str | None:
    """Render epoch milliseconds as ISO 8601 UTC with a ``Z``, or None."""
    if ms is None:
        return None
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")
