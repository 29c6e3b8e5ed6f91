"""Suggestions, analytics and learning, checked by hand on a small history.

ann's history (app timezone UTC):
- S1 Bug Fix (estimate 90 min), started Thu 2026-01-01 09:00, active 100 min, all five
  goals done, one blocker that cost 10 min: completed.
- S2 Bug Fix, started Thu 2026-01-08 14:00, active 60 min, no goal done: cancelled.
- S3 blank (estimate 60 min), started Fri 2026-01-09 14:00, active 30 min, its one goal
  (documentation, skill writing, no estimate) done: completed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sessionhub import Engine, FakeClock
from sessionhub.core.work.insights import slope
from sessionhub.models.work import BlockerCreate, BlockerResolve, GoalCreate, GoalUpdate, WorkCreate
from tests.conftest import Keys


async def _history(engine: Engine, app_id: str, clock: FakeClock) -> None:
    work = engine.work
    clock.set(datetime(2026, 1, 1, 9, tzinfo=UTC))
    s1 = await work.sessions.create(app_id, "ann", WorkCreate(template_id="tpl_bug_fix"))
    await work.sessions.transition(app_id, "ann", s1.id, "active")
    clock.advance(60)
    blocker = await work.blockers.open(app_id, "ann", s1.id, BlockerCreate(description="VPN"))
    clock.advance(600)
    await work.blockers.resolve(app_id, "ann", s1.id, blocker.id, BlockerResolve())
    for goal in (await work.goals.list(app_id, "ann", s1.id)).items:
        await work.goals.update(app_id, "ann", s1.id, goal.id, GoalUpdate(status="done"))
    clock.advance(6000 - 660)
    await work.sessions.transition(app_id, "ann", s1.id, "completed")

    clock.set(datetime(2026, 1, 8, 14, tzinfo=UTC))
    s2 = await work.sessions.create(app_id, "ann", WorkCreate(template_id="tpl_bug_fix"))
    await work.sessions.transition(app_id, "ann", s2.id, "active")
    clock.advance(3600)
    await work.sessions.transition(app_id, "ann", s2.id, "cancelled")

    clock.set(datetime(2026, 1, 9, 14, tzinfo=UTC))
    s3 = await work.sessions.create(app_id, "ann", WorkCreate(name="Docs", estimate_s=3600))
    goal = await work.goals.create(
        app_id,
        "ann",
        s3.id,
        GoalCreate(title="Write", category="documentation", skills=["writing"]),
    )
    await work.sessions.transition(app_id, "ann", s3.id, "active")
    clock.advance(1800)
    await work.goals.update(app_id, "ann", s3.id, goal.id, GoalUpdate(status="done"))
    await work.sessions.transition(app_id, "ann", s3.id, "completed")
    # Someone else's session stays out of ann's figures.
    await work.sessions.create(app_id, "zed", WorkCreate(name="Other"))


async def test_analytics_of_a_user(engine: Engine, keys: Keys, clock: FakeClock) -> None:
    """Completion 2/3, accuracy (0.9 + 0.5) / 2, 6 goals in 3.1667 h, time per category
    shared by estimates, one blocker of 600 s."""
    await _history(engine, keys.app_id, clock)
    got = await engine.work.insights.user_analytics(keys.app_id, "ann", "ann")
    assert (3, 2, 1) == (got.sessions, got.completed, got.cancelled)
    assert got.completion_rate == pytest.approx(2 / 3)
    assert got.estimate_accuracy == pytest.approx(0.7)
    assert (6, 3.1667) == (got.goals_done, got.active_hours)
    assert got.goals_per_active_hour == pytest.approx(6 / (11400 / 3600))
    assert {
        "documentation": pytest.approx(666.667 + 400 + 1800, abs=0.01),
        "execution": pytest.approx(3333.333 + 2000, abs=0.01),
        "planning": pytest.approx(1000 + 600, abs=0.01),
        "testing": pytest.approx(1000 + 600, abs=0.01),
    } == got.time_by_category_s
    assert (1, 600.0) == (got.blockers, got.time_lost_s)


async def test_team_analytics_add_up_the_users(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """The team of ann and zed has ann's three sessions plus zed's open one; everyone is the same here."""
    await _history(engine, keys.app_id, clock)
    team = await engine.work.insights.analytics(keys.app_id, "lead", ["ann", "zed"])
    everyone = await engine.work.insights.analytics(keys.app_id, "lead", None)
    assert (4, 2, 4) == (team.sessions, team.completed, everyone.sessions)


async def test_suggestions_rank_templates_and_calibrate_durations(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Bug Fix (finished once of twice) ranks first; its 90 min become 72.5 min at ann's median
    ratio (100/90 and 30/60: 0.8056); she finishes best in the morning."""
    await _history(engine, keys.app_id, clock)
    got = await engine.work.insights.suggestions(keys.app_id, "ann", "ann")
    first = got.items[0]
    assert ("tpl_bug_fix", 2, 1, 0.5, 4350) == (
        first.template_id,
        first.started,
        first.completed,
        first.completion_rate,
        first.suggested_duration_s,
    )
    assert (0.8056, "morning") == (got.median_ratio, got.best_hour_bucket)
    assert {"tpl_feature": 8700, "tpl_research": 5800} == {
        t.template_id: t.suggested_duration_s for t in got.items[1:]
    }


async def test_learning_tracks_skills_and_effectiveness(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Writing: done in two consecutive weeks (velocity 0), 2866.7 s; effectiveness by time of
    day and by session length as hand-counted."""
    await _history(engine, keys.app_id, clock)
    got = await engine.work.insights.learning(keys.app_id, "ann", "ann")
    skills = {s.skill: s for s in got.skills}
    writing = skills["writing"]
    assert (2, [("2025-12-29", 1), ("2026-01-05", 1)], 0.0) == (
        writing.goals_done,
        [(w.week, w.goals_done) for w in writing.weeks],
        writing.velocity,
    )
    assert writing.active_s == pytest.approx(2866.667, abs=0.01)
    assert (2, 4266.667) == (skills["debugging"].goals_done, round(skills["debugging"].active_s, 3))
    assert [("morning", 1, 1.0, 0.9), ("afternoon", 2, 0.5, 0.5)] == [
        (e.bucket, e.sessions, e.completion_rate, e.estimate_accuracy) for e in got.by_time_of_day
    ]
    assert [("30-90 min", 2, 0.5), ("90-180 min", 1, 1.0)] == [
        (e.bucket, e.sessions, e.completion_rate) for e in got.by_session_length
    ]


async def test_insights_of_a_user_are_for_that_user(engine: Engine, keys: Keys) -> None:
    """Another user asking for ann's suggestions, analytics or learning gets 403."""
    from sessionhub import Forbidden

    for read in (
        engine.work.insights.suggestions,
        engine.work.insights.user_analytics,
        engine.work.insights.learning,
    ):
        with pytest.raises(Forbidden):
            await read(keys.app_id, "zed", "ann")


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], 0.0), ([5], 0.0), ([1, 2, 3], 1.0), ([3, 1], -2.0), ([0, 2, 1], 0.5)],
)
def test_velocity_is_the_least_squares_slope(values: list[float], expected: float) -> None:
    """slope() is the least-squares slope over 0, 1, 2, …"""
    assert expected == slope(values)
