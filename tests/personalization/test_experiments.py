"""Experiments: deterministic sticky assignment, namespaces, targeting, exposures, results."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from sessionhub import Engine, FakeClock
from sessionhub.core.personalization.experiments import bucket
from sessionhub.errors import Conflict, InvalidInput
from sessionhub.models.personalization import ExperimentIn, ExperimentPatch, SegmentIn
from sessionhub.storage.schema_personalization import experiment_exposures
from tests.personalization.support import new_app, send, view


def _spec(key: str = "btn", **more: Any) -> ExperimentIn:
    body: dict[str, Any] = {
        "key": key,
        "variants": [
            {"key": "control", "features": {"color": "blue"}},
            {"key": "green", "features": {"color": "green"}},
        ],
        "goal": {"event": "conversion"},
        "status": "running",
        **more,
    }
    return ExperimentIn.model_validate(body)


def _exposures(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(experiment_exposures)).scalar_one())


async def test_decide_is_deterministic_and_answers_feature_values(engine: Engine) -> None:
    """The same unit gets the same variant, and the variant's features come with it."""
    app = await new_app(engine)
    experiments = engine.personalization.experiments
    await experiments.create(app, _spec())
    first = await experiments.decide(app, user_id="u1", track=False)
    again = await experiments.decide(app, user_id="u1", track=False)
    assert first == again
    variant = first.variants["btn"]
    assert {"color": "blue" if variant == "control" else "green"} == first.features


async def test_variants_split_by_their_weights(engine: Engine) -> None:
    """A 1:3 split gives about a quarter of units the first variant."""
    app = await new_app(engine)
    spec = _spec(variants=[{"key": "a", "weight": 1}, {"key": "b", "weight": 3}])
    await engine.personalization.experiments.create(app, spec)
    got = [
        (
            await engine.personalization.experiments.decide(app, user_id=f"u{i}", track=False)
        ).variants["btn"]
        for i in range(2000)
    ]
    assert 0.21 < got.count("a") / len(got) < 0.29


async def test_growing_coverage_keeps_units_already_in(engine: Engine) -> None:
    """Units covered at 20% stay covered, with the same variant, at 60%."""
    app = await new_app(engine)
    experiments = engine.personalization.experiments
    await experiments.create(app, _spec(coverage=0.2))
    before = {
        u: (await experiments.decide(app, user_id=u, track=False)).variants.get("btn")
        for u in (f"u{i}" for i in range(300))
    }
    await experiments.update(app, "btn", ExperimentPatch(coverage=0.6))
    after = {
        u: (await experiments.decide(app, user_id=u, track=False)).variants.get("btn")
        for u in before
    }
    kept = {u: v for u, v in before.items() if v is not None}
    assert 30 < len(kept) < 90
    assert kept == {u: after[u] for u in kept}
    assert sum(v is not None for v in after.values()) > 2 * len(kept)


async def test_assignments_are_sticky_when_weights_change(engine: Engine) -> None:
    """An exposed unit keeps its variant after the weights move everything elsewhere."""
    app = await new_app(engine)
    experiments = engine.personalization.experiments
    await experiments.create(app, _spec())
    users = [f"u{i}" for i in range(40)]
    first = {u: (await experiments.decide(app, user_id=u)).variants["btn"] for u in users}
    await experiments.update(app, "btn", ExperimentPatch(weights={"control": 1, "green": 1000}))
    later = {u: (await experiments.decide(app, user_id=u)).variants["btn"] for u in users}
    assert first == later
    fresh = await experiments.decide(app, user_id="newcomer")
    assert "green" == fresh.variants["btn"]


async def test_exposures_are_logged_once_per_unit(engine: Engine) -> None:
    """Deciding twice for a unit stores one exposure."""
    app = await new_app(engine)
    await engine.personalization.experiments.create(app, _spec())
    for _ in range(3):
        await engine.personalization.experiments.decide(app, user_id="u1")
    await engine.personalization.experiments.decide(app, user_id="u2", track=False)
    assert 1 == await engine.db.read(_exposures)


async def test_namespaces_make_experiments_mutually_exclusive(engine: Engine) -> None:
    """Two experiments on disjoint halves of a namespace never share a unit; overlap is refused."""
    app = await new_app(engine)
    experiments = engine.personalization.experiments
    await experiments.create(app, _spec("one", namespace={"name": "checkout", "end": 0.5}))
    await experiments.create(app, _spec("two", namespace={"name": "checkout", "start": 0.5}))
    with pytest.raises(Conflict):
        await experiments.create(
            app, _spec("three", namespace={"name": "checkout", "start": 0.4, "end": 0.6})
        )
    seen = [
        set((await experiments.decide(app, user_id=f"u{i}", track=False)).variants)
        for i in range(200)
    ]
    assert all(len(s) == 1 for s in seen)
    assert {"one", "two"} == set().union(*seen)


async def test_targeting_by_conditions_and_segment(engine: Engine) -> None:
    """Conditions read the decide call's attributes; a segment needs the user to be in it."""
    app = await new_app(engine)
    experiments = engine.personalization.experiments
    await experiments.create(
        app, _spec("de", targeting={"conditions": {"trait": "country", "op": "eq", "value": "DE"}})
    )
    await engine.personalization.segments.put(app, SegmentIn(key="vip", users=["u1"]))
    await experiments.create(app, _spec("vip", targeting={"segment": "vip"}))
    de = await experiments.decide(app, user_id="u1", attributes={"country": "DE"}, track=False)
    fr = await experiments.decide(app, user_id="u2", attributes={"country": "FR"}, track=False)
    assert ({"de", "vip"}, set()) == (set(de.variants), set(fr.variants))


async def test_device_and_session_units_use_their_ids(engine: Engine) -> None:
    """A device-unit experiment answers for a device id and not for a user alone."""
    app = await new_app(engine)
    await engine.personalization.experiments.create(app, _spec(unit="device"))
    assert {} == (await engine.personalization.experiments.decide(app, user_id="u1")).variants
    assert "btn" in (await engine.personalization.experiments.decide(app, device_id="d1")).variants


def _row(
    variants: list[tuple[str, float]], kind: str = "conversion", min_sample: int = 1
) -> dict[str, Any]:
    return {
        "key": "btn",
        "variants": [{"key": k, "weight": w} for k, w in variants],
        "goal": {
            "event": "conversion",
            "kind": kind,
            **({"property": "amount"} if kind == "property" else {}),
        },
        "min_sample": min_sample,
    }


async def test_results_count_conversions_after_exposure(engine: Engine, clock: FakeClock) -> None:
    """Conversion rate per variant counts units with a goal event after their exposure."""
    app = await new_app(engine)
    experiments = engine.personalization.experiments
    await send(engine, app, [view(type="conversion")], user_id="early")  # before any exposure
    clock.advance(1)
    await experiments.create(app, _spec(min_sample=1))
    users = [f"u{i}" for i in range(60)] + ["early"]
    assigned = {u: (await experiments.decide(app, user_id=u)).variants["btn"] for u in users}
    converters = [u for u in users if u != "early" and int(u[1:]) % 3 == 0]
    for user in converters:
        await send(engine, app, [view(type="conversion"), view(type="conversion")], user_id=user)
    results = await experiments.results(app, "btn")
    by = {v.variant: v for v in results.variants}
    for variant in ("control", "green"):
        units = [u for u, v in assigned.items() if v == variant]
        conv = [u for u in units if u in converters]
        assert (len(units), len(conv)) == (by[variant].units, by[variant].conversions)
        assert by[variant].ci_low <= by[variant].value <= by[variant].ci_high
    assert by["control"].p_value is None
    assert by["green"].p_value is not None
    assert results.enough_data


async def test_results_withhold_verdicts_below_the_minimum_sample(engine: Engine) -> None:
    """Under min_sample units per variant, no p-value or chance to beat control is given."""
    app = await new_app(engine)
    await engine.personalization.experiments.create(app, _spec(min_sample=100))
    await engine.personalization.experiments.decide(app, user_id="u1")
    results = await engine.personalization.experiments.results(app, "btn")
    assert not results.enough_data
    assert all(v.p_value is None and v.chance_to_beat_control is None for v in results.variants)


async def test_property_goals_compare_means_and_flag_a_sample_ratio_mismatch(
    engine: Engine,
) -> None:
    """A numeric goal compares means with Welch's t; a skewed split raises the SRM warning."""
    from sessionhub.core.personalization.results import compute_results

    exposures = [("a", f"a{i}") for i in range(500)] + [("b", f"b{i}") for i in range(700)]
    events = [("a", f"a{i}", {"amount": 10}) for i in range(0, 500, 2)] + [
        ("b", f"b{i}", {"amount": 20}) for i in range(0, 700, 2)
    ]
    results = compute_results(_row([("a", 1), ("b", 1)], "property"), exposures, events)
    a, b = results.variants
    assert (pytest.approx(5.0), pytest.approx(10.0)) == (a.value, b.value)
    assert b.p_value is not None
    assert b.p_value < 0.001
    assert b.chance_to_beat_control is not None
    assert b.chance_to_beat_control > 0.99
    assert results.srm_warning


def test_buckets_are_uniform_and_stable() -> None:
    """The hash bucket is the same for the same input and spreads evenly."""
    assert bucket("x", "u1") == bucket("x", "u1")
    points = [bucket("exp", f"u{i}") for i in range(10_000)]
    assert 0.48 < sum(p < 0.5 for p in points) / len(points) < 0.52


async def test_targeting_conditions_may_only_test_attributes(engine: Engine) -> None:
    """Conditions on profile fields or behaviour in targeting are refused (a segment does that)."""
    app = await new_app(engine)
    spec = _spec(targeting={"conditions": {"field": "events", "op": "gte", "value": 1}})
    with pytest.raises(InvalidInput) as caught:
        await engine.personalization.experiments.create(app, spec)
    assert "targeting.conditions" == caught.value.details["field"]


async def test_a_kept_answer_follows_changes_and_untracked_assignments(engine: Engine) -> None:
    """A repeated decide is answered from memory only while nothing can change it: raising
    the coverage lets a unit left out in, a ``track=False`` answer stores nothing (the next
    tracked call logs the exposure), and a new segment member is asked about afresh."""
    app = await new_app(engine)
    experiments = engine.personalization.experiments
    await experiments.create(app, _spec(coverage=0.0))
    assert {} == (await experiments.decide(app, user_id="u1")).variants
    assert {} == (await experiments.decide(app, user_id="u1")).variants
    await experiments.update(app, "btn", ExperimentPatch(coverage=1.0))
    peek = await experiments.decide(app, user_id="u1", track=False)
    assert 0 == await engine.db.read(_exposures)
    tracked = await experiments.decide(app, user_id="u1")
    assert peek == tracked
    assert 1 == await engine.db.read(_exposures)
    assert tracked == await experiments.decide(app, user_id="u1")
    assert 1 == await engine.db.read(_exposures)
    await experiments.create(app, _spec("vip", targeting={"segment": "vip"}))
    await engine.personalization.segments.put(app, SegmentIn(key="vip", users=["u2"]))
    assert {"btn"} == set((await experiments.decide(app, user_id="u1")).variants)
    await engine.personalization.segments.put(app, SegmentIn(key="vip", users=["u1", "u2"]))
    assert {"btn", "vip"} == set((await experiments.decide(app, user_id="u1")).variants)
