"""Fixtures of the analytics tests: an engine whose clock stands at the dataset's NOW."""

from __future__ import annotations

import pytest

from sessionhub import FakeClock
from tests.analytics.dataset import NOW


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)
