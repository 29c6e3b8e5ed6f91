"""The shortcuts: active now, app-wide stats, bounced sessions, summaries and breakdowns."""

from __future__ import annotations

from sessionhub import Engine, FakeClock
from sessionhub.enrich.client import ClientInfo
from sessionhub.models import SessionCreate, SessionEnd
from tests.analytics.helpers import pages, send


async def test_active_now_counts_sessions_with_activity_in_the_last_five_minutes(
    engine: Engine, clock: FakeClock
) -> None:
    """A session quiet for 6 minutes is still running but not active now; the pages list
    where the active ones are."""
    app = (await engine.apps.create("live")).id
    await send(engine, clock, app, "quiet", "page_view", path="/docs")
    await send(engine, clock, app, "busy", "page_view", path="/", after=360)
    await send(engine, clock, app, "busy2", "page_view", path="/", user="u1")
    now = await engine.analytics.active_now(app)
    assert (2, 2, 1, [({"page": "/"}, {"sessions": 2})]) == (
        now.sessions,
        now.visitors,
        now.users,
        [(row.dimensions, row.metrics) for row in now.pages],
    )


async def test_app_stats_count_every_session_as_it_stands_now(
    engine: Engine, clock: FakeClock
) -> None:
    """Running, ended by logout, and idled out (before the worker ran) are told apart, with
    the average duration of all."""
    app = (await engine.apps.create("stats")).id
    idle, _ = await engine.sessions.create(app, SessionCreate())
    clock.advance(20)
    await engine.sessions.heartbeat(app, idle.id)
    clock.advance(1800)
    gone, _ = await engine.sessions.create(app, SessionCreate())
    clock.advance(40)
    await engine.sessions.end(app, gone.id, SessionEnd(reason="logout"))
    await engine.sessions.create(app, SessionCreate(kind="work"))
    stats = await engine.analytics.app_stats(app)
    assert (3, 1, 2, 1, {"logout": 1, "timeout": 1}, 20.0) == (
        stats.total,
        stats.active,
        stats.ended,
        stats.expired,
        stats.by_reason,
        stats.avg_duration,
    )


async def test_bounce_sessions_lists_the_visits_that_bounced(
    engine: Engine, clock: FakeClock
) -> None:
    """One page seen for 5 s bounces; two pages, or one page read for a minute, do not; the
    list pages newest first."""
    app = (await engine.apps.create("bounces")).id
    first = await send(engine, clock, app, "a", "page_view", path="/a")
    await pages(engine, clock, app, "b", ["/", "/x"])
    reader = await send(engine, clock, app, "c", "page_view", path="/long")
    clock.advance(60)
    await engine.sessions.heartbeat(app, reader)
    second = await send(engine, clock, app, "d", "page_view", path="/d", after=1)
    one = await engine.analytics.bounce_sessions(app, "today", limit=1)
    two = await engine.analytics.bounce_sessions(app, "today", limit=1, cursor=one.next_cursor)
    assert ([second], [first], None) == (
        [s.id for s in one.items],
        [s.id for s in two.items],
        two.next_cursor,
    )


async def test_a_summary_compares_with_the_previous_period(
    engine: Engine, clock: FakeClock
) -> None:
    """The summary's compare block holds the previous period's totals and the change in %."""
    app = (await engine.apps.create("summary")).id
    await send(engine, clock, app, "a", "page_view", path="/")
    clock.advance(86400)
    await send(engine, clock, app, "b", "page_view", path="/")
    await send(engine, clock, app, "c", "page_view", path="/")
    summary = await engine.analytics.summary(app, "today")
    assert summary.compare is not None
    assert (2, 1, 100.0) == (
        summary.totals["sessions"],
        summary.compare.totals["sessions"],
        summary.compare.change["sessions"],
    )


async def test_breakdowns_list_values_by_sessions(engine: Engine) -> None:
    """Device and country breakdowns list each value with its sessions, most first."""
    app = (await engine.apps.create("devices")).id
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    for device, agent, country in (("a", phone, "DE"), ("b", phone, "FR"), ("c", desktop, "DE")):
        client = ClientInfo(user_agent=agent, country=country)
        event = {"device_id": device, "type": "page_view", "path": "/"}
        await engine.events.ingest(app, [event], client=client)
    devices = await engine.analytics.breakdown(app, "device_type", "today")
    countries = await engine.analytics.breakdown(app, "country", "today")
    assert [("mobile", 2), ("desktop", 1)] == [
        (row.dimensions["device_type"], row.metrics["sessions"]) for row in devices.rows
    ]
    assert [("DE", 2), ("FR", 1)] == [
        (row.dimensions["country"], row.metrics["sessions"]) for row in countries.rows
    ]
