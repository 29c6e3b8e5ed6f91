"""Segments: rule trees over profiles and behaviour, static lists, counts and history."""

from __future__ import annotations

from typing import Any

import pytest

from sessionhub import Engine, FakeClock
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models.personalization import SegmentIn
from sessionhub.worker import Worker
from tests.personalization.support import DAY_MS, new_app, send, view


async def _segment(engine: Engine, app: str, rules: dict[str, Any]) -> list[str]:
    await engine.personalization.segments.put(app, SegmentIn(key="s", rules=rules))
    page = await engine.personalization.segments.members(app, "s")
    return page.items


async def test_behaviour_conditions_count_events_within_the_window(
    engine: Engine, clock: FakeClock
) -> None:
    """'Did X at least N times within D days' counts only the window's events."""
    app = await new_app(engine)
    await send(engine, app, [view(type="conversion")] * 2, user_id="old")
    clock.advance(20 * DAY_MS / 1000)
    await send(engine, app, [view(type="conversion")] * 2, user_id="new")
    await send(engine, app, [view(type="conversion")], user_id="once")
    rule = {"event": "conversion", "min": 2, "within_days": 7}
    assert ["new"] == await _segment(engine, app, rule)


async def test_and_or_not_combine_traits_fields_and_did_not(engine: Engine) -> None:
    """Combinators over traits, profile fields and 'did not do Y'."""
    app = await new_app(engine)
    for user, n in (("a", 1), ("b", 3), ("c", 3)):
        await send(engine, app, [view("p")] * n, user_id=user)
    await engine.personalization.profiles.set_traits(app, "b", {"plan": "pro"})
    await send(engine, app, [view(type="conversion")], user_id="c")
    rules = {
        "and": [
            {"field": "events", "op": "gte", "value": 3},
            {
                "or": [
                    {"trait": "plan", "op": "eq", "value": "pro"},
                    {"not": {"event": "conversion", "max": 0}},
                ]
            },
        ]
    }
    assert ["b", "c"] == await _segment(engine, app, rules)
    did_not = {"event": "conversion", "max": 0, "within_days": 30}
    assert ["a", "b"] == await _segment(engine, app, did_not)


async def test_lapsed_users_were_active_30_to_90_days_ago_but_not_since(
    engine: Engine, clock: FakeClock
) -> None:
    """'Active 30-90 days ago but not since' picks only the lapsed user."""
    app = await new_app(engine)
    await send(engine, app, [view()], user_id="ancient")
    clock.advance(60 * DAY_MS / 1000)
    await send(engine, app, [view()], user_id="lapsed")
    clock.advance(40 * DAY_MS / 1000)
    await send(engine, app, [view()], user_id="active")
    assert ["lapsed"] == await _segment(engine, app, {"last_active_between_days": [30, 90]})


async def test_affinity_conditions_use_the_normalised_vector(engine: Engine) -> None:
    """An affinity condition compares a dimension's share of the vector."""
    app = await new_app(engine)
    await send(engine, app, [view("p", "shoes")] * 3 + [view("q", "hats")], user_id="fan")
    await send(engine, app, [view("p", "shoes")] + [view("q", "hats")] * 3, user_id="meh")
    rule = {"affinity": "category:shoes", "op": "gte", "value": 0.6}
    assert ["fan"] == await _segment(engine, app, rule)


async def test_static_segments_list_check_and_count(engine: Engine) -> None:
    """A static segment is its list: members paginated, membership, count."""
    app = await new_app(engine)
    segments = engine.personalization.segments
    await segments.put(app, SegmentIn(key="vip", users=["u3", "u1", "u2"]))
    first = await segments.members(app, "vip", limit=2)
    assert (["u1", "u2"], "u2") == (first.items, first.next_cursor)
    rest = await segments.members(app, "vip", limit=2, cursor=first.next_cursor)
    assert (["u3"], None) == (rest.items, rest.next_cursor)
    assert (await segments.check(app, "vip", "u2")).member
    assert not (await segments.check(app, "vip", "u9")).member
    assert 3 == (await segments.count(app, "vip")).members


async def test_rule_members_paginate_and_count(engine: Engine) -> None:
    """Rule members page by user id, and the count agrees."""
    app = await new_app(engine)
    for n in range(5):
        await send(engine, app, [view()], user_id=f"u{n}")
    segments = engine.personalization.segments
    await segments.put(
        app, SegmentIn(key="all", rules={"field": "events", "op": "gte", "value": 1})
    )
    first = await segments.members(app, "all", limit=3)
    rest = await segments.members(app, "all", limit=3, cursor=first.next_cursor)
    assert ["u0", "u1", "u2", "u3", "u4"] == first.items + rest.items
    assert 5 == (await segments.count(app, "all")).members


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"and": []}, "rules"),
        ({"field": "nope", "op": "eq", "value": 1}, "rules.field"),
        ({"or": [{"trait": "x", "op": "between", "value": 1}]}, "rules.or.0.op"),
        ({"event": "x", "within_days": 0}, "rules.within_days"),
        ({"last_active_between_days": [90, 30]}, "rules.last_active_between_days"),
        ({"mystery": 1}, "rules"),
    ],
)
async def test_bad_rules_are_refused_naming_where(
    engine: Engine, rules: dict[str, Any], field: str
) -> None:
    """A malformed rule tree is a 422 whose details name the node."""
    app = await new_app(engine)
    with pytest.raises(InvalidInput) as caught:
        await engine.personalization.segments.put(app, SegmentIn(key="s", rules=rules))
    assert field == caught.value.details["field"]


async def test_the_worker_records_each_segments_size_once_a_day(
    engine: Engine, clock: FakeClock
) -> None:
    """The daily snapshot job builds the membership history."""
    app = await new_app(engine)
    segments = engine.personalization.segments
    await segments.put(app, SegmentIn(key="vip", users=["u1"]))
    await Worker(engine).run_once()
    await segments.put(app, SegmentIn(key="vip", users=["u1", "u2"]))
    await Worker(engine).run_once()  # same day: not taken again
    clock.advance(DAY_MS / 1000)
    await Worker(engine).run_once()
    history = await segments.history(app, "vip")
    assert [1, 2] == [d.members for d in history.days]
    await segments.delete(app, "vip")
    with pytest.raises(NotFound):
        await segments.history(app, "vip")
