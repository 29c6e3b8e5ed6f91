"""Profiles: kept up by ingestion, per user and per device, merged on identify, consent-gated."""

from __future__ import annotations

import pytest

from sessionhub import Engine, FakeClock
from sessionhub.errors import ConsentRequired, NotFound
from sessionhub.models import Identify
from sessionhub.models.personalization import PersonalizationSettings
from sessionhub.models.privacy import ConsentIn
from tests.personalization.support import DAY_MS, new_app, send, view


async def test_ingested_events_build_the_users_profile(engine: Engine) -> None:
    """Events of a user's sessions count into their profile: events, sessions, days, types."""
    app = await new_app(engine)
    await send(engine, app, [view("p1", "shoes"), view("p2", "shoes", type="action")], user_id="u1")
    profile = await engine.personalization.profiles.get(app, "u1")
    assert (2, 1, 1) == (profile.events, profile.sessions, profile.active_days)
    assert {"page_view": 1, "action": 1} == profile.event_counts
    assert "new" == profile.lifecycle
    assert "category:shoes" == profile.affinities[0].dimension


async def test_affinities_are_normalised_and_decay_with_the_half_life(
    engine: Engine, clock: FakeClock
) -> None:
    """Scores sum to 1, and an old interest weighs half per half-life against a new one."""
    app = await new_app(engine)
    await engine.personalization.profiles.configure(
        app, PersonalizationSettings(half_life_days=1, dimensions=["category"])
    )
    await send(engine, app, [view("p1", "books")], user_id="u1")
    clock.advance(DAY_MS / 1000)
    await send(engine, app, [view("p2", "games")], user_id="u1")
    vector = await engine.personalization.profiles.vector(app, "u1")
    scores = {a.dimension: a.score for a in vector.affinities}
    assert pytest.approx(1.0) == sum(scores.values())
    assert pytest.approx(1 / 3) == scores["category:books"]
    assert pytest.approx(2 / 3) == scores["category:games"]
    assert "games" not in vector.affinities[1].dimension
    assert 1 == len(vector.affinities[0].events)


async def test_a_per_request_half_life_recomputes_from_raw_events(
    engine: Engine, clock: FakeClock
) -> None:
    """Asking for another half-life answers from raw events with that half-life."""
    app = await new_app(engine)
    await send(engine, app, [view("p1", "books")], user_id="u1")
    clock.advance(DAY_MS / 1000)
    await send(engine, app, [view("p2", "games")], user_id="u1")
    vector = await engine.personalization.profiles.vector(app, "u1", half_life_days=1)
    scores = {a.dimension: a.score for a in vector.affinities}
    assert pytest.approx(2 / 3) == scores["category:games"]
    assert 1 == vector.half_life_days


async def test_anonymous_devices_get_a_profile_merged_into_the_user_on_identify(
    engine: Engine,
) -> None:
    """A device's profile moves into the user's when the device is identified."""
    app = await new_app(engine)
    await send(engine, app, [view("p1", "shoes")], device_id="d1")
    assert 1 == (await engine.personalization.profiles.get(app, "d1", kind="device")).events
    await send(engine, app, [view("p2", "hats")], user_id="u1")
    await engine.sessions.identify(app, Identify(device_id="d1", user_id="u1"))
    profile = await engine.personalization.profiles.get(app, "u1")
    assert 2 == profile.events
    assert ["d1"] == profile.devices
    assert {"category:shoes", "category:hats"} == {a.dimension for a in profile.affinities}
    with pytest.raises(NotFound):
        await engine.personalization.profiles.get(app, "d1", kind="device")
    # Later events of the linked device count for the user.
    await send(engine, app, [view("p3", "shoes")], device_id="d1")
    assert 3 == (await engine.personalization.profiles.get(app, "u1")).events


async def test_no_personalization_consent_no_profile(engine: Engine) -> None:
    """A user who refused personalization gets no profile, and traits cannot be set."""
    app = await new_app(engine)
    await engine.consent.set(app, ConsentIn(user_id="u1", purposes={"personalization": False}))
    await send(engine, app, [view("p1", "shoes")], user_id="u1")
    with pytest.raises(NotFound):
        await engine.personalization.profiles.get(app, "u1")
    with pytest.raises(ConsentRequired):
        await engine.personalization.profiles.set_traits(app, "u1", {"plan": "pro"})


async def test_traits_merge_and_survive_a_rebuild(engine: Engine) -> None:
    """Traits merge-patch (null removes) and a rebuild from raw events keeps them."""
    app = await new_app(engine)
    await send(engine, app, [view("p1", "shoes")] * 1, user_id="u1")
    await engine.personalization.profiles.set_traits(app, "u1", {"plan": "pro", "x": 1})
    await engine.personalization.profiles.set_traits(app, "u1", {"x": None})
    rebuilt = await engine.personalization.profiles.rebuild(app)
    assert (1, 1) == (rebuilt.profiles, rebuilt.events)
    profile = await engine.personalization.profiles.get(app, "u1")
    assert {"plan": "pro"} == profile.traits
    assert 1 == profile.events


async def test_rebuild_equals_the_incremental_profile(engine: Engine, clock: FakeClock) -> None:
    """Recomputing from raw events gives what ingestion kept, batch by batch."""
    app = await new_app(engine)
    for day in range(3):
        await send(engine, app, [view(f"p{day}", "c" + str(day % 2))] * 2, user_id="u1")
        clock.advance(DAY_MS / 1000)
    before = await engine.personalization.profiles.get(app, "u1")
    await engine.personalization.profiles.rebuild(app, "u1")
    after = await engine.personalization.profiles.get(app, "u1")
    assert before.model_dump() == after.model_dump()


async def test_lifecycle_moves_from_new_to_dormant_to_resurrecting(
    engine: Engine, clock: FakeClock
) -> None:
    """New in the first week, dormant after four weeks away, resurrecting when back."""
    app = await new_app(engine)
    await send(engine, app, [view("p1")], user_id="u1")
    assert "new" == (await engine.personalization.profiles.get(app, "u1")).lifecycle
    clock.advance(40 * DAY_MS / 1000)
    assert "dormant" == (await engine.personalization.profiles.get(app, "u1")).lifecycle
    await send(engine, app, [view("p2")], user_id="u1")
    assert "resurrecting" == (await engine.personalization.profiles.get(app, "u1")).lifecycle
    clock.advance(10 * DAY_MS / 1000)
    await send(engine, app, [view("p3")], user_id="u1")
    assert "returning" == (await engine.personalization.profiles.get(app, "u1")).lifecycle


async def test_computed_traits_count_sum_and_pick_values_in_their_window(
    engine: Engine, clock: FakeClock
) -> None:
    """Computed traits read raw events within their rolling window."""
    app = await new_app(engine)
    await engine.personalization.profiles.configure(
        app,
        PersonalizationSettings.model_validate(
            {
                "computed_traits": [
                    {"name": "orders", "op": "count", "event": "conversion", "window_days": 7},
                    {"name": "spent", "op": "sum", "event": "conversion", "property": "amount"},
                    {"name": "fav", "op": "most_frequent", "property": "category"},
                    {"name": "first_cat", "op": "first", "property": "category"},
                ]
            }
        ),
    )
    await send(
        engine, app, [view("p1", "a", type="conversion", properties={"amount": 5})], user_id="u1"
    )
    clock.advance(10 * DAY_MS / 1000)
    await send(
        engine,
        app,
        [view("p2", "b", type="conversion", properties={"amount": 7}), view("p3", "b")],
        user_id="u1",
    )
    traits = (await engine.personalization.profiles.get(app, "u1")).computed_traits
    assert {"orders": 1, "spent": 12.0, "fav": "b", "first_cat": "a"} == traits


async def test_quintiles_rank_users_among_the_apps_profiles(engine: Engine) -> None:
    """The most active of five users is in the top frequency quintile, the least in the bottom."""
    app = await new_app(engine)
    for n in range(1, 6):
        await send(engine, app, [view(f"p{n}")] * n, user_id=f"u{n}")
    top = await engine.personalization.profiles.get(app, "u5")
    low = await engine.personalization.profiles.get(app, "u1")
    assert top.quintiles is not None
    assert low.quintiles is not None
    assert (5, 1) == (top.quintiles.engagement, low.quintiles.engagement)
