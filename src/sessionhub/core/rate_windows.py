"""Sliding-window counters in this process's memory, for rate limits without Redis.

They count as the ``limits`` library's sliding-window counter does (windows aligned on
multiples of the period; the previous window's count weighted by the share of it the
sliding window still covers, plus the current window's), and answer the same calls
(``hit``, ``get_window_stats``, ``incr``, ``reset``). Its in-memory storage takes asyncio
locks and keeps an expiry task for every check, about a tenth of a request's cost here:
this is a few dictionary operations. With Redis (several replicas), ``limits`` counts.
"""

from __future__ import annotations

import time
from math import floor, inf

from limits import RateLimitItem
from limits.util import WindowStats

SWEEP_EVERY_S = 60.0  # forget windows that ended this long ago, at most this often


class MemoryWindows:
    """Per-key counters of the current and the previous window of a rate."""

    def __init__(self) -> None:
        # key -> [start of the current window, previous window's count, current count, period]
        self._windows: dict[str, list[float]] = {}
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._swept_at = time.time()

    def _counts(self, item: RateLimitItem, ids: tuple[str, ...], now: float) -> list[float]:
        if now - self._swept_at > SWEEP_EVERY_S:
            self._sweep(now)
        expiry = item.get_expiry()
        key = item.key_for(*ids)
        start = now - now % expiry
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = [start, 0, 0, expiry]
        elif window[0] != start:
            previous = window[2] if window[0] == start - expiry else 0
            window[0], window[1], window[2] = start, previous, 0
        return window

    def hit(self, item: RateLimitItem, *ids: str) -> bool:
        """Count one request; False (and nothing counted) when the limit is used up."""
        now = time.time()
        window = self._counts(item, ids, now)
        expiry = item.get_expiry()
        weighted = window[1] * (expiry - (now - window[0])) / expiry + window[2]
        if floor(weighted) + 1 > item.amount:
            return False
        window[2] += 1
        return True

    def get_window_stats(self, item: RateLimitItem, *ids: str) -> WindowStats:
        """When the next request will be allowed, and how many are left now."""
        now = time.time()
        start, previous, current, _ = self._counts(item, ids, now)
        expiry = item.get_expiry()
        covered = expiry - (now - start)  # the part of the previous window still counted
        remaining = max(0, item.amount - floor(previous * covered / expiry + current))
        if not (previous or current):
            return WindowStats(now, remaining)
        previous_in = covered % (expiry / previous) if previous else inf
        current_in = (covered + expiry) % expiry if current else inf
        return WindowStats(now + min(previous_in, current_in), remaining)

    def incr(self, key: str, expiry: int) -> int:
        """Add one to a counter that lives ``expiry`` seconds from its first count."""
        now = time.time()
        count, expires_at = self._counters.get(key, (0, 0.0))
        if expires_at <= now:
            count, expires_at = 0, now + expiry
        self._counters[key] = (count + 1, expires_at)
        return count + 1

    def reset(self) -> None:
        self._windows.clear()
        self._counters.clear()

    def _sweep(self, now: float) -> None:
        self._swept_at = now
        # A window that started two periods ago counts for nothing any more.
        self._windows = {k: w for k, w in self._windows.items() if now - w[0] < 2 * w[3]}
        self._counters = {k: c for k, c in self._counters.items() if c[1] > now}
