"""The in-memory sliding windows count as the ``limits`` library's sliding-window counter."""

from __future__ import annotations

import random
import time

import pytest
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from sessionhub.core import rate_windows
from sessionhub.core.rate_windows import MemoryWindows


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("seed", range(5))
async def test_the_same_answers_as_limits_sliding_window_counter(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hits at random moments over several windows: every answer, and the stats, agree."""
    clock = Clock(1_800_000_000.0)
    monkeypatch.setattr(time, "time", clock)
    rng = random.Random(seed)
    item = parse("10/minute")
    ours = MemoryWindows()
    theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
    answers = []
    for _ in range(400):
        clock.now += rng.expovariate(1 / 2.5)  # about 24 requests a minute: often over
        who = rng.choice(["key", "ip"])
        expected = await theirs.hit(item, "policy", who)
        assert expected == ours.hit(item, "policy", who), (clock.now, who)
        stats, expected_stats = (
            ours.get_window_stats(item, "policy", who),
            (await theirs.get_window_stats(item, "policy", who)),
        )
        assert expected_stats.remaining == stats.remaining
        assert expected_stats.reset_time == pytest.approx(stats.reset_time)
        answers.append(expected)
    assert 50 < sum(answers) < 350  # both allowed and refused requests were compared


def test_windows_long_over_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counters of keys not seen for two periods go, so memory does not grow with visitors."""
    clock = Clock(1_800_000_000.0)
    monkeypatch.setattr(time, "time", clock)
    windows = MemoryWindows()
    minute, hour = parse("5/minute"), parse("5/hour")
    for i in range(100):
        assert windows.hit(minute, "ip", f"visitor-{i}")
    assert windows.hit(hour, "key", "k1")
    assert 1 == windows.incr("suspect/k1", 30)
    clock.now += rate_windows.SWEEP_EVERY_S + 121
    assert windows.hit(minute, "ip", "newcomer")  # sweeps on the way
    assert (2, 0) == (len(windows._windows), len(windows._counters))
    assert 4 == windows.get_window_stats(hour, "key", "k1").remaining  # the hour still counts
