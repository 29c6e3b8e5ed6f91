"""Funnels, paths, journeys, retention and abandoned workflows over hand-made sessions."""

from __future__ import annotations

from sessionhub import Engine, FakeClock
from sessionhub.models import Identify
from sessionhub.models.analytics import FunnelStepResult, PathLink
from tests.analytics.helpers import pages, send

IDLE = 31 * 60  # past the idle timeout: the next event starts a new session

STEPS = [
    {"page": "/"},
    {"page": "/pricing"},
    {"event": "signup"},
    {"event": "conversion"},
]


async def _funnel_data(engine: Engine, clock: FakeClock) -> str:
    app = (await engine.apps.create("funnels")).id
    await pages(engine, clock, app, "d1", ["/", "/pricing"])
    await send(engine, clock, app, "d1", "signup", after=20)
    await send(engine, clock, app, "d1", "conversion", after=10)
    await pages(engine, clock, app, "d2", ["/", "/pricing"], gap=20)
    await pages(engine, clock, app, "d3", ["/pricing", "/"])
    await pages(engine, clock, app, "d4", ["/blog"])
    return app


async def test_a_session_funnel_counts_each_step_in_order(engine: Engine, clock: FakeClock) -> None:
    """Per step: sessions that reached it in order, conversion from the first and the
    previous step, drop-off and the median time to the next step."""
    app = await _funnel_data(engine, clock)
    result = await engine.analytics.funnel(app, {"steps": STEPS, "date_range": "today"})
    assert [
        FunnelStepResult(
            step=1,
            label="/",
            count=3,
            conversion_from_first=100.0,
            conversion_from_previous=100.0,
            drop_off=0,
            median_time_to_next_s=15.0,
        ),
        FunnelStepResult(
            step=2,
            label="/pricing",
            count=2,
            conversion_from_first=200 / 3,
            conversion_from_previous=200 / 3,
            drop_off=1,
            median_time_to_next_s=20.0,
        ),
        FunnelStepResult(
            step=3,
            label="signup",
            count=1,
            conversion_from_first=100 / 3,
            conversion_from_previous=50.0,
            drop_off=1,
            median_time_to_next_s=10.0,
        ),
        FunnelStepResult(
            step=4,
            label="conversion",
            count=1,
            conversion_from_first=100 / 3,
            conversion_from_previous=100.0,
            drop_off=0,
            median_time_to_next_s=None,
        ),
    ] == result.steps


async def test_a_user_funnel_spans_sessions_within_the_window(
    engine: Engine, clock: FakeClock
) -> None:
    """Within a user, steps may fall in later sessions, but only inside window_days of the
    first step; within a session they may not."""
    app = (await engine.apps.create("funnels")).id
    await send(engine, clock, app, "d9", "page_view", path="/", user="u9")
    await send(engine, clock, app, "d9", "page_view", path="/pricing", user="u9", after=2 * 86400)
    counts = []
    for within, days in (("session", 7), ("user", 7), ("user", 1)):
        result = await engine.analytics.funnel(
            app, {"steps": STEPS[:2], "within": within, "window_days": days, "date_range": "7d"}
        )
        counts.append([step.count for step in result.steps])
    assert [[1, 0], [1, 1], [1, 0]] == counts


async def test_paths_from_a_page_give_sankey_links_to_depth(
    engine: Engine, clock: FakeClock
) -> None:
    """Paths from '/' collapse reloads, end in (exit), and count sessions per link by depth."""
    app = (await engine.apps.create("paths")).id
    await pages(engine, clock, app, "a", ["/", "/pricing", "/signup"])
    await pages(engine, clock, app, "b", ["/", "/blog", "/blog", "/pricing"])
    await pages(engine, clock, app, "c", ["/blog", "/"])
    result = await engine.analytics.paths(app, {"page": "/", "depth": 3, "date_range": "today"})
    assert 3 == result.sessions
    assert [
        PathLink(depth=1, source="/", target="(exit)", sessions=1),
        PathLink(depth=1, source="/", target="/blog", sessions=1),
        PathLink(depth=1, source="/", target="/pricing", sessions=1),
        PathLink(depth=2, source="/blog", target="/pricing", sessions=1),
        PathLink(depth=2, source="/pricing", target="/signup", sessions=1),
        PathLink(depth=3, source="/pricing", target="(exit)", sessions=1),
        PathLink(depth=3, source="/signup", target="(exit)", sessions=1),
    ] == result.links


async def test_paths_backwards_fold_all_but_the_top_steps_into_other(
    engine: Engine, clock: FakeClock
) -> None:
    """Paths to '/pricing' walk back to (entry); with top=1 the less common step is (other)."""
    app = (await engine.apps.create("paths")).id
    await pages(engine, clock, app, "a", ["/", "/pricing"])
    await pages(engine, clock, app, "b", ["/", "/blog", "/pricing"])
    await pages(engine, clock, app, "c", ["/docs", "/blog", "/pricing"])
    result = await engine.analytics.paths(
        app,
        {"page": "/pricing", "direction": "previous", "depth": 2, "top": 1, "date_range": "today"},
    )
    assert [
        ("/pricing", "/blog", 2),
        ("/pricing", "(other)", 1),
        ("/blog", "(other)", 2),
        ("(other)", "(entry)", 1),
    ] == [(link.source, link.target, link.sessions) for link in result.links]


async def test_a_user_journey_lists_sessions_and_steps_in_order(
    engine: Engine, clock: FakeClock
) -> None:
    """A user's journey shows each session, oldest first, with its events in order."""
    app = (await engine.apps.create("journeys")).id
    await pages(engine, clock, app, "j", ["/", "/docs"])
    await send(engine, clock, app, "j", "action", after=5, properties={"name": "copy"})
    clock.advance(IDLE)
    await engine.sessions.identify(app, Identify(device_id="j", user_id="uj"))
    await send(engine, clock, app, "j", "page_view", path="/pricing")
    journey = await engine.analytics.journey(app, user_id="uj")
    assert [["page_view:/", "page_view:/docs", "action:None"], ["page_view:/pricing"]] == [
        [f"{step.type}:{step.path}" for step in session.steps] for session in journey.sessions
    ]


async def test_retention_counts_returning_users_per_later_day(
    engine: Engine, clock: FakeClock
) -> None:
    """Cohorts by first-seen day; period k counts the cohort's users with a session k days
    later; users without a first session in the range are not a cohort."""
    app = (await engine.apps.create("retention")).id
    await send(engine, clock, app, "a", "page_view", path="/", user="u1")
    await send(engine, clock, app, "b", "page_view", path="/", user="u2")
    clock.advance(86400)
    await send(engine, clock, app, "a", "page_view", path="/", user="u1")
    await send(engine, clock, app, "c", "page_view", path="/", user="u3")
    clock.advance(86400)
    await send(engine, clock, app, "c", "page_view", path="/", user="u3")
    result = await engine.analytics.retention(
        app, {"by": "users", "period": "day", "periods": 2, "date_range": "7d"}
    )
    assert [(2, [2, 1, 0]), (1, [1, 1, 0])] == [
        (cohort.size, cohort.returning) for cohort in result.cohorts
    ]
    by_device = await engine.analytics.retention(
        app, {"by": "devices", "period": "week", "periods": 1, "date_range": "7d"}
    )
    assert [3] == [cohort.size for cohort in by_device.cohorts]


async def test_abandoned_workflows_are_starts_without_completion_in_ended_sessions(
    engine: Engine, clock: FakeClock
) -> None:
    """A workflow start matched by a completion of the same workflow is completed; one
    without is abandoned once its session ended, and only in progress while it runs."""
    app = (await engine.apps.create("workflows")).id
    done = await send(
        engine, clock, app, "x", "workflow_start", properties={"workflow": "checkout"}
    )
    await send(
        engine, clock, app, "x", "workflow_complete", after=5, properties={"workflow": "checkout"}
    )
    await send(
        engine, clock, app, "x", "workflow_start", after=5, properties={"workflow": "onboarding"}
    )
    clock.advance(IDLE)
    await send(engine, clock, app, "y", "workflow_start", properties={"workflow": "checkout"})
    result = await engine.analytics.workflows(app, "today")
    assert [("checkout", 2, 1, 0), ("onboarding", 1, 0, 1)] == [
        (w.workflow, w.started, w.completed, w.abandoned) for w in result.workflows
    ]
    assert [(done, "onboarding")] == [(a.session_id, a.workflow) for a in result.abandoned]
    one = await engine.analytics.workflows(app, session_id=done)
    assert 1 == len(one.abandoned)
