"""The tracker in real Chromium against a running server: page views, batches, retries, sessions.

Browser tests run on SQLite only (see conftest.py): the server behind them is the same on
every backend, and the API's storage behaviour is covered on PostgreSQL elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytest.importorskip("playwright")
from playwright.sync_api import BrowserContext, Page, Playwright, Route

from tests.tracker.conftest import LiveServer, Tenant, is_events_post, visit, wait_until

FIVE_MINUTES_MS = 5 * 60_000
# Counts the tracker's calls by path, so a test can say how many went out.
COUNT_CALLS = """
window.__calls = {};
const realFetch = window.fetch;
window.fetch = (url, options) => {
  const path = new URL(url).pathname;
  window.__calls[path] = (window.__calls[path] || 0) + 1;
  return realFetch(url, options);
};
"""


def calls(page: Page, path: str) -> int:
    count: int = page.evaluate(f"window.__calls[{json.dumps(path)}] || 0")
    return count


def track(page: Page, count: int, name: str = "action") -> None:
    page.evaluate(
        f"for (let i = 0; i < {count}; i++) sessionhub.trackEvent({json.dumps(name)}, {{n: i}})"
    )


def queued(page: Page, tenant: Tenant) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        f"JSON.parse(localStorage.getItem('sessionhub:{tenant.publishable}:q') || '[]')"
    )
    return found


def pause(page: Page) -> None:
    """Stop the page's clock (just ahead of now): from here only run_for moves it."""
    page.clock.pause_at((page.evaluate("Date.now()") + 1_000) / 1000)  # seconds, in Python


def set_visibility(page: Page, state: str) -> None:
    page.evaluate(
        """state => {
          Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
          document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


# -- page views ---------------------------------------------------------------------------


def test_a_page_view_arrives_with_its_campaign_source_and_desktop_device(
    tenant: Tenant, page: Page
) -> None:
    """The first page view starts a session whose source, entry page, screen and device come from the visit."""
    url = tenant.page("/landing")
    answer = visit(page, url + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring")
    [session] = tenant.sessions()
    assert [session["id"]] == answer["sessions"]
    assert ("newsletter", "email", "spring") == (
        session["source"],
        session["medium"],
        session["campaign"]["name"],
    )
    assert ("/landing", "desktop", "Chrome", "Linux", "1280x720") == (
        session["entry_page"],
        session["device"]["type"],
        session["device"]["browser"],
        session["device"]["os"],
        session["device"]["screen"],
    )
    [event] = tenant.events(session["id"])
    assert ("page_view", "/landing", "/landing") == (event["type"], event["path"], event["title"])


def test_a_search_referrer_is_organic_and_a_phone_is_mobile(
    tenant: Tenant, browser: Any, playwright: Playwright, server: LiveServer
) -> None:
    """A visit from Google on a phone is source Google, medium organic, device mobile."""
    context = browser.new_context(**playwright.devices["Pixel 7"])
    context.clock.install(time=server.now())
    try:
        visit(context.new_page(), tenant.page("/from-search"), referer="https://www.google.com/")
    finally:
        context.close()
    [session] = tenant.sessions()
    assert ("Google", "organic", "mobile") == (
        session["source"],
        session["medium"],
        session["device"]["type"],
    )
    assert "https://www.google.com/" == session["referrer"]


def test_single_page_app_navigation_is_tracked(tenant: Tenant, page: Page) -> None:
    """pushState and popstate each record a page view with the previous page as referrer; a
    replaceState that keeps the URL records none."""
    url = tenant.page("/app")
    visit(page, url)
    page.evaluate("history.pushState({}, '', '/app/cart')")
    page.evaluate("history.replaceState({step: 2}, '', '/app/cart')")
    page.evaluate("history.pushState({}, '', '/app/checkout?step=1')")
    page.evaluate(
        "new Promise(done => { addEventListener('popstate', done, {once: true}); history.back() })"
    )
    page.evaluate("sessionhub.flushEvents()")
    [session] = tenant.sessions()
    views = [e for e in tenant.events(session["id"]) if e["type"] == "page_view"]
    assert ["/app", "/app/cart", "/app/checkout", "/app/cart"] == [e["path"] for e in views]
    origin = tenant.site.origin
    assert [None, f"{origin}/app", f"{origin}/app/cart", f"{origin}/app/checkout?step=1"] == [
        e["referrer"] for e in views
    ]
    assert 4 == session["page_views"]


def test_the_module_build_tracks_after_init(tenant: Tenant, page: Page) -> None:
    """The ES module at /sdk/sessionhub.mjs, imported and started with init(), tracks like the tag."""
    html = (
        "<!doctype html><title>module</title><script type=module>"
        f"import * as sessionhub from '{tenant.api}/sdk/sessionhub.mjs';"
        "window.sessionhub = sessionhub;"
        f"sessionhub.init({{key: '{tenant.publishable}', host: '{tenant.api}'}});"
        "</script>"
    )
    visit(page, tenant.site.add("/module", html))
    [session] = tenant.sessions()
    assert page.evaluate("sessionhub.getSessionId()") == session["id"]


# -- batches and delivery -------------------------------------------------------------------


def test_events_go_out_in_one_request_at_five(tenant: Tenant, context: BrowserContext) -> None:
    """Five events are sent together at once, in one request, each with its own client id."""
    context.add_init_script(COUNT_CALLS)
    page = context.new_page()
    visit(page, tenant.page("/five"))
    with page.expect_response(is_events_post) as sent:
        track(page, 5)
    assert 5 == sent.value.json()["accepted"]
    assert 2 == calls(page, "/v1/events")
    ids = [e["id"] for e in json.loads(sent.value.request.post_data or "{}")["events"]]
    assert 5 == len(set(ids))


def test_fewer_events_wait_five_seconds(tenant: Tenant, context: BrowserContext) -> None:
    """Two events stay in the buffer until 5 s after the first, then go out together."""
    context.add_init_script(COUNT_CALLS)
    page = context.new_page()
    visit(page, tenant.page("/wait"))
    pause(page)
    track(page, 2)
    page.clock.run_for(4_900)
    assert 1 == calls(page, "/v1/events")
    with page.expect_response(is_events_post) as sent:
        page.clock.run_for(100)
    assert 2 == sent.value.json()["accepted"], sent.value.json()


def test_a_batch_is_not_duplicated_after_a_forced_retry(tenant: Tenant, page: Page) -> None:
    """A batch stored by the server whose answer was lost is sent again with the same ids and stored once."""
    visit(page, tenant.page("/retry"))
    lost: list[str] = []

    def lose_the_answer(route: Route) -> None:
        if not lost:
            lost.append(route.request.post_data or "")
            route.fetch()  # the server stores the batch…
            route.abort()  # …and the browser never hears back
        else:
            route.continue_()

    page.route("**/v1/events", lose_the_answer)
    with page.expect_response(is_events_post) as resent:
        track(page, 5)
        page.clock.run_for(1_000)  # the first retry's backoff
    assert {"accepted": 0, "duplicates": 5} == {
        k: resent.value.json()[k] for k in ("accepted", "duplicates")
    }
    assert lost[0] == resent.value.request.post_data
    assert 6 == len(tenant.all_events())


def test_offline_events_are_kept_and_arrive_after_reconnecting(
    tenant: Tenant, context: BrowserContext
) -> None:
    """Events sent while offline wait in localStorage and are delivered once the browser is back online."""
    page = context.new_page()
    visit(page, tenant.page("/offline"))
    context.set_offline(True)
    track(page, 5)
    page.wait_for_function(
        f"JSON.parse(localStorage.getItem('sessionhub:{tenant.publishable}:q') || '[]').length == 5"
    )
    with page.expect_response(is_events_post) as sent:
        context.set_offline(False)
    assert 5 == sent.value.json()["accepted"]
    assert [] == queued(page, tenant)
    assert 6 == len(tenant.all_events())


def test_failed_sends_back_off_and_the_queue_is_bounded(
    tenant: Tenant, context: BrowserContext
) -> None:
    """Retries wait 1 s, then 2 s, then 4 s; at most 500 unsent events are kept, the newest."""
    context.add_init_script(COUNT_CALLS)
    page = context.new_page()
    visit(page, tenant.page("/backoff"))
    page.route("**/v1/events", lambda route: route.abort())
    pause(page)
    # A failed send is back in the queue (and its retry timer set) once the queue is full again.
    failed = (
        "n => (window.__calls['/v1/events'] || 0) >= n && JSON.parse("
        f"localStorage.getItem('sessionhub:{tenant.publishable}:q') || '[]').length == 5"
    )
    track(page, 5)
    page.wait_for_function(failed, arg=2)
    for step_ms, expected in ((999, 2), (1, 3), (1_999, 3), (1, 4), (3_999, 4), (1, 5)):
        page.clock.run_for(step_ms)
        page.wait_for_function(failed, arg=expected)
        assert expected == calls(page, "/v1/events")
    track(page, 600)
    # A full batch may be on its way (and fail) meanwhile: wait for it to be back in the queue.
    page.wait_for_function(
        f"(q => q.length == 500 && q[499].properties.n == 599)(JSON.parse("
        f"localStorage.getItem('sessionhub:{tenant.publishable}:q') || '[]'))"
    )
    kept = queued(page, tenant)
    assert (500, list(range(100, 600))) == (len(kept), [e["properties"]["n"] for e in kept])


def test_the_buffer_goes_out_by_beacon_when_the_page_is_left(tenant: Tenant, page: Page) -> None:
    """On pagehide the buffered events are sent with sendBeacon and stored, without waiting 5 s."""
    visit(page, tenant.page("/leaving"))
    track(page, 3, "read_more")
    page.goto(tenant.page("/elsewhere", attrs="data-auto=false"))
    names = wait_until(
        lambda: [e["type"] for e in tenant.all_events() if e["type"] == "read_more"] or None
    )
    assert 3 == len(names)


def test_the_buffer_goes_out_by_beacon_when_the_tab_is_hidden(tenant: Tenant, page: Page) -> None:
    """A tab turning hidden sends its buffer by sendBeacon (it may never come back)."""
    visit(page, tenant.page("/hidden"))
    track(page, 2, "scrolled")
    with page.expect_request("**/v1/beacon") as beacon:
        set_visibility(page, "hidden")
    assert tenant.publishable == json.loads(beacon.value.post_data or "{}")["key"]
    wait_until(lambda: len([e for e in tenant.all_events() if e["type"] == "scrolled"]) == 2)


# -- sessions -------------------------------------------------------------------------------


def test_heartbeats_every_five_minutes_only_while_visible(
    tenant: Tenant, context: BrowserContext, server: LiveServer
) -> None:
    """A visible page heartbeats every 5 minutes; a hidden one does not."""
    context.add_init_script(COUNT_CALLS)
    page = context.new_page()
    visit(page, tenant.page("/reader"))
    sid = page.evaluate("sessionhub.getSessionId()")
    path = f"/v1/sessions/{sid}/heartbeat"
    pause(page)
    server.clock.advance(FIVE_MINUTES_MS / 1000)
    with page.expect_response(f"**{path}") as beat:
        page.clock.run_for(FIVE_MINUTES_MS)
    assert 200 == beat.value.status
    set_visibility(page, "hidden")
    page.clock.run_for(2 * FIVE_MINUTES_MS)
    assert 1 == calls(page, path)
    set_visibility(page, "visible")
    with page.expect_response(f"**{path}"):
        page.clock.run_for(FIVE_MINUTES_MS)
    assert 2 == calls(page, path)
    [session] = tenant.sessions()
    assert session["duration_s"] >= 300


def test_after_the_idle_timeout_the_next_event_starts_a_new_session(
    tenant: Tenant, page: Page, server: LiveServer
) -> None:
    """An event for a session the server has timed out is resent to a new session; the old one stays ended."""
    visit(page, tenant.page("/idle"))
    first = page.evaluate("sessionhub.getSessionId()")
    set_visibility(page, "hidden")  # no heartbeat: the tab sits in the background
    server.clock.advance(31 * 60)
    page.clock.fast_forward("31:00")
    set_visibility(page, "visible")
    track(page, 1, "came_back")
    page.evaluate("sessionhub.flushEvents()")
    second = page.evaluate("sessionhub.getSessionId()")
    assert second not in (None, first)
    by_id = {s["id"]: s for s in tenant.sessions()}
    assert ("ended", "timeout") == (by_id[first]["status"], by_id[first]["end_reason"])
    assert ["came_back"] == [e["type"] for e in tenant.events(second)]


def test_a_heartbeat_answered_session_ended_drops_the_session(
    tenant: Tenant, page: Page, server: LiveServer
) -> None:
    """When a heartbeat hears the session is over, the tracker forgets it and the next event starts a new one."""
    visit(page, tenant.page("/ended"))
    first = page.evaluate("sessionhub.getSessionId()")
    ended = httpx.post(
        f"{tenant.api}/v1/sessions/{first}/end",
        headers={"Authorization": f"Bearer {tenant.secret}"},
        timeout=10,
    )
    assert 200 == ended.status_code
    pause(page)
    with page.expect_response("**/heartbeat") as beat:
        page.clock.run_for(FIVE_MINUTES_MS)
    assert 409 == beat.value.status
    page.wait_for_function("sessionhub.getSessionId() === null")
    track(page, 1, "next")
    page.evaluate("sessionhub.flushEvents()")
    assert page.evaluate("sessionhub.getSessionId()") not in (None, first)


def test_the_session_is_restored_after_a_reload(tenant: Tenant, page: Page) -> None:
    """Reloading the page keeps the session: one session with two page views."""
    visit(page, tenant.page("/reload"))
    first = page.evaluate("sessionhub.getSessionId()")
    with page.expect_response(is_events_post):
        page.reload()
    assert first == page.evaluate("sessionhub.getSessionId()")
    [session] = tenant.sessions()
    assert (first, 2) == (session["id"], session["page_views"])


def test_two_tabs_share_one_session(tenant: Tenant, context: BrowserContext) -> None:
    """Two tabs opened together start one session between them, and both follow its replacement."""
    one, two = context.new_page(), context.new_page()
    with one.expect_response(is_events_post), two.expect_response(is_events_post):
        one.goto(tenant.page("/tab-one"))
        two.goto(tenant.page("/tab-two"))
    [session] = tenant.sessions()
    assert [session["id"]] * 2 == [p.evaluate("sessionhub.getSessionId()") for p in (one, two)]
    assert 2 == session["page_views"]
    one.evaluate("sessionhub.endSession('logout')")
    track(one, 1, "after")
    one.evaluate("sessionhub.flushEvents()")
    replacement = one.evaluate("sessionhub.getSessionId()")
    assert replacement != session["id"]
    two.wait_for_function("id => sessionhub.getSessionId() === id", arg=replacement)


def test_set_user_id_links_the_device_and_its_sessions(tenant: Tenant, page: Page) -> None:
    """setUserId links the browser's device to the user: its sessions join the user's history;
    a different user later gets a session of their own."""
    visit(page, tenant.page("/login"))
    first = page.evaluate("sessionhub.getSessionId()")
    page.evaluate("sessionhub.setUserId('alice')")
    assert [first] == [s["id"] for s in tenant.get("/v1/users/alice/sessions")["items"]]
    page.evaluate("sessionhub.setUserId('bob')")
    [bobs] = tenant.get("/v1/users/bob/sessions")["items"]
    assert bobs["id"] != first
    assert "ended" == tenant.get(f"/v1/sessions/{first}")["status"]


def test_no_cookies_are_set(tenant: Tenant, context: BrowserContext) -> None:
    """Tracking sets no cookie, on the site or on the server."""
    page = context.new_page()
    visit(page, tenant.page("/cookies"))
    track(page, 5)
    page.evaluate("sessionhub.flushEvents()")
    assert ("", []) == (page.evaluate("document.cookie"), context.cookies())


def test_the_tracker_leaves_other_pages_alone_without_a_key(tenant: Tenant, page: Page) -> None:
    """A tag without data-key starts nothing (and breaks nothing)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    html = f'<!doctype html><title>x</title><script src="{tenant.api}/sdk/sessionhub.js"></script>'
    page.goto(tenant.site.add("/no-key", html))
    assert (None, []) == (page.evaluate("sessionhub.getSessionId()"), errors)
    assert [] == tenant.sessions()
