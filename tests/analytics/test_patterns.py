"""User patterns and engagement scores: the documented rules, thresholds from the app's
settings, and the worker keeping them for the user_pattern dimension."""

from __future__ import annotations

import pytest

from sessionhub import Engine, FakeClock, NotFound
from sessionhub.core.analytics.definitions import engagement_score
from sessionhub.core.analytics.patterns import classify
from sessionhub.models.analytics import PatternThresholds
from sessionhub.worker import Worker
from tests.analytics.helpers import send

BASE = {
    "sessions": 10.0,
    "avg_duration_s": 600.0,
    "avg_actions": 5.0,
    "avg_pages": 6.0,
    "avg_distinct_pages": 4.0,
    "latest_errors": 0.0,
    "error_share": 0.0,
    "success_share": 0.0,
    "repeat_share": 0.0,
    "abandoned": 0.0,
    "days_known": 60.0,
}


@pytest.mark.parametrize(
    ("changes", "primary"),
    [
        ({"sessions": 1.0}, "new_user"),
        ({"days_known": 3.0}, "new_user"),
        ({"latest_errors": 6.0, "avg_duration_s": 100.0}, "struggling_user"),
        ({"error_share": 0.6}, "struggling_user"),
        ({"avg_duration_s": 2000.0, "avg_actions": 60.0}, "power_user"),
        ({"avg_duration_s": 2000.0, "avg_actions": 10.0}, "regular_user"),
        ({"avg_duration_s": 120.0}, "quick_checker"),
        ({}, "regular_user"),
    ],
)
def test_the_primary_pattern_follows_the_documented_order(
    changes: dict[str, float], primary: str
) -> None:
    """new_user, then struggling_user, power_user, quick_checker, else regular_user."""
    assert primary == classify({**BASE, **changes}, PatternThresholds())[0]


def test_behaviours_fire_with_their_indicators_and_confidence() -> None:
    """explorer, task_focused and confused fire on their measures and say which indicator
    fired; confidence is 0.5 at the threshold and 1 at twice it."""
    stats = {**BASE, "avg_distinct_pages": 16.0, "repeat_share": 0.45, "abandoned": 2.0}
    _, fired = classify(stats, PatternThresholds())
    found = {m.type: (m.confidence, m.indicators) for m in fired[1:]}
    assert {
        "explorer": (1.0, ["avg_distinct_pages=16.0>=8"]),
        "confused": (0.75, ["repeat_share=0.45>=0.3", "abandoned_workflows=2>=2"]),
    } == found
    focused = {**BASE, "success_share": 0.5, "avg_pages": 3.0}
    assert ["task_focused"] == [m.type for m in classify(focused, PatternThresholds())[1][1:]]


def test_thresholds_are_configurable() -> None:
    """Raising quick_max_avg_duration_s makes a 10-minute user a quick checker."""
    loose = PatternThresholds(quick_max_avg_duration_s=900)
    assert ("regular_user", "quick_checker") == (
        classify(BASE, PatternThresholds())[0],
        classify(BASE, loose)[0],
    )


def test_the_engagement_score_follows_its_formula() -> None:
    """Full marks for 5 engaged minutes, 5 pages, 10 actions and a conversion; errors
    halve it at most; nothing scores 0."""
    assert (100.0, 0.0, 50.0, 55.0) == (
        engagement_score(300_000, 5, 10, True, 0),
        engagement_score(0, 0, 0, False, 0),
        engagement_score(300_000, 5, 10, True, 9),
        engagement_score(150_000, 5, 5, False, 0),
    )


async def test_a_users_patterns_come_from_their_sessions(engine: Engine, clock: FakeClock) -> None:
    """A user with one short session is a new user (confidence 1) and gets an engagement
    score; an unknown user is a 404."""
    app = (await engine.apps.create("patterns")).id
    session = await send(engine, clock, app, "p1", "page_view", path="/", user="pat")
    await send(engine, clock, app, "p1", "action", after=60, properties={"name": "x"})
    found = await engine.analytics.user_patterns(app, "pat")
    score = await engine.analytics.session_engagement(app, session)
    assert ("new_user", 1.0, 1) == (found.pattern, found.patterns[0].confidence, found.sessions)
    assert (
        found.engagement_score == score.engagement_score == engagement_score(60_000, 1, 1, False, 0)
    )
    with pytest.raises(NotFound):
        await engine.analytics.user_patterns(app, "nobody")


async def test_the_worker_stores_patterns_for_the_user_pattern_dimension(
    engine: Engine, clock: FakeClock
) -> None:
    """After a worker run, sessions break down by their user's pattern and pattern counts
    list the users per pattern; later runs, at most once a minute, recompute only users
    active since."""
    await engine.apps.create("patterns")
    app = (await engine.apps.create("patterns-2")).id
    await send(engine, clock, app, "a", "page_view", path="/", user="ua")
    await send(engine, clock, app, "b", "page_view", path="/")
    clock.advance(1)
    result = await Worker(engine).run_once()
    assert 1 == result["refresh_user_patterns"]
    by_pattern = await engine.query(
        app, {"metrics": ["sessions"], "dimensions": ["user_pattern"], "date_range": "today"}
    )
    assert [({"user_pattern": "new_user"}, 1), ({"user_pattern": None}, 1)] == [
        (row.dimensions, row.metrics["sessions"]) for row in by_pattern.rows
    ]
    assert [("new_user", 1)] == [
        (c.pattern, c.users) for c in await engine.analytics.pattern_counts(app)
    ]
    clock.advance(60)
    assert 0 == (await Worker(engine).run_once())["refresh_user_patterns"]  # nobody active
    await send(engine, clock, app, "a", "page_view", path="/next", user="ua")
    assert 0 == (await Worker(engine).run_once())["refresh_user_patterns"]  # within the minute
    clock.advance(60)
    assert 1 == (await Worker(engine).run_once())["refresh_user_patterns"]
