"""Epoch milliseconds and datetimes convert exactly, both ways."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from sessionhub.clock import from_ms, to_ms

# From 1900 to 2200: history an import may bring, and any live event.
MS = st.integers(min_value=-2_208_988_800_000, max_value=7_258_118_400_000)


@given(MS)
def test_milliseconds_survive_a_round_trip(ms: int) -> None:
    assert ms == to_ms(from_ms(ms))


@given(MS, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_a_time_with_any_offset_is_its_exact_millisecond(ms: int, offset_min: int) -> None:
    """The same instant written with any UTC offset gives the same milliseconds, counted
    here from its calendar fields alone."""
    zone = timezone(timedelta(minutes=offset_min))
    when = from_ms(ms).astimezone(zone)
    fields = when.astimezone(UTC)
    expected = calendar.timegm(fields.timetuple()) * 1000 + fields.microsecond // 1000
    assert expected == to_ms(when)


def test_a_time_a_float_conversion_got_wrong() -> None:
    """Through a float this came out a millisecond early."""
    assert 549_282_782_782 == to_ms(datetime(1987, 5, 29, 10, 33, 2, 782_000, tzinfo=UTC))


def test_a_naive_time_is_taken_as_utc() -> None:
    assert 1_577_836_800_000 == to_ms(datetime(2020, 1, 1))
