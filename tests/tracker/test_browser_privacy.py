"""The tracker's consent handling in real Chromium: consent modes, opt-out, GPC, DNT, fingerprints.

Browser tests run on SQLite only (see conftest.py): the server behind them is the same on
every backend, and consent's storage behaviour is covered on PostgreSQL in its own tests.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import BrowserContext, Page

from tests.tracker.conftest import LiveServer, Site, Tenant, is_events_post, make_tenant, visit

GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
DNT = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})"
# Counts canvas reads: a fingerprint needs one.
CANVAS_SPY = """
window.__canvasReads = 0;
const realToDataURL = HTMLCanvasElement.prototype.toDataURL;
HTMLCanvasElement.prototype.toDataURL = function (...args) {
  window.__canvasReads++;
  return realToDataURL.apply(this, args);
};
"""
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def api_calls(page: Page, api: str) -> list[str]:
    """Record every request the page makes to the API, as 'METHOD /path'."""
    seen: list[str] = []
    page.on(
        "request",
        lambda r: (
            seen.append(f"{r.method} {r.url[len(api) :].split('?')[0]}")
            if r.url.startswith(api) and r.method != "OPTIONS"
            else None
        ),
    )
    return seen


def is_config(response: Any) -> bool:
    return "/v1/tracker/config?" in response.url


def stored_state(page: Page, tenant: Tenant) -> Any:
    return page.evaluate(f"JSON.parse(localStorage.getItem('sessionhub:{tenant.publishable}'))")


def consent_of(tenant: Tenant, device_id: str) -> Any:
    return tenant.get("/v1/consent", device_id=device_id)


# -- consent modes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_mode", "attrs"),
    [("required", ""), ("opt_out", 'data-consent="required"')],
    ids=["app-requires", "page-requires"],
)
def test_nothing_is_sent_before_consent_when_it_is_required(
    server: LiveServer, site: Site, page: Page, app_mode: str, attrs: str
) -> None:
    """With consent required (by the app or the page), only the script and the app's settings
    are fetched and nothing is stored; a yes then sends the waiting page view and events."""
    tenant = make_tenant(server, site, consent_mode=app_mode)
    seen = api_calls(page, tenant.api)
    with page.expect_response(is_config):
        page.goto(tenant.page(f"/required-{app_mode}", attrs=attrs))
    page.evaluate("sessionhub.trackEvent('clicked', {})")
    page.clock.run_for(10_000)
    assert ["GET /sdk/sessionhub.js", "GET /v1/tracker/config"] == seen
    assert (None, None) == (stored_state(page, tenant), page.evaluate("sessionhub.getSessionId()"))
    with page.expect_response(is_events_post) as sent:
        page.evaluate("sessionhub.updateConsent({analytics: true})")
    assert 2 == sent.value.json()["accepted"]
    assert ["POST /v1/consent", "POST /v1/sessions", "POST /v1/events"] == seen[2:]
    [session] = tenant.sessions()
    assert consent_of(tenant, session["device_id"])["effective"]["analytics"] is True


def test_opting_out_stops_tracking_and_forgets_the_device(tenant: Tenant, page: Page) -> None:
    """A "no" to analytics is sent to the server, leaves only the choice in storage, and stops
    every later send, on this page and after a reload."""
    visit(page, tenant.page("/opt-out"))
    [session] = tenant.sessions()
    seen = api_calls(page, tenant.api)
    page.evaluate("sessionhub.updateConsent({analytics: false})")
    assert {"c": {"analytics": False}, "g": False} == stored_state(page, tenant)
    page.evaluate("for (let i = 0; i < 6; i++) sessionhub.trackEvent('ignored', {})")
    page.evaluate("sessionhub.flushEvents()")
    page.reload()
    page.clock.run_for(10_000)
    page.evaluate("sessionhub.flushEvents()")
    assert "POST /v1/events" not in seen
    assert [session["id"]] == [s["id"] for s in tenant.sessions()]
    assert 1 == len(tenant.events(session["id"]))
    state = consent_of(tenant, session["device_id"])
    assert (False, False) == (
        state["device"]["purposes"]["analytics"],
        state["effective"]["analytics"],
    )


@pytest.mark.parametrize(("honor_dnt", "tracked"), [(True, False), (False, True)])
def test_do_not_track_is_honoured_when_the_app_says_so(
    server: LiveServer, site: Site, context: BrowserContext, honor_dnt: bool, tracked: bool
) -> None:
    """A browser with Do-Not-Track on sends nothing to an app that honours DNT, and is tracked by one that does not."""
    tenant = make_tenant(server, site, honor_dnt=honor_dnt)
    context.add_init_script(DNT)
    page = context.new_page()
    seen = api_calls(page, tenant.api)
    url = tenant.page(f"/dnt-{honor_dnt}")
    if tracked:
        visit(page, url)
    else:
        with page.expect_response(is_config):
            page.goto(url)
        page.clock.run_for(10_000)
        page.evaluate("sessionhub.flushEvents()")
    assert tracked == ("POST /v1/events" in seen)
    assert tracked == bool(tenant.sessions())


# -- Global Privacy Control -------------------------------------------------------------------


@pytest.mark.parametrize(("gpc", "marketing"), [(True, False), (False, True)])
def test_gpc_stops_marketing_consent(
    tenant: Tenant, context: BrowserContext, gpc: bool, marketing: bool
) -> None:
    """With Global Privacy Control on, a "yes" to marketing is recorded as a "no" and the
    device is opted out of sale and sharing; without it the "yes" stands."""
    if gpc:
        context.add_init_script(GPC)
    page = context.new_page()
    visit(page, tenant.page(f"/gpc-{gpc}"))
    page.evaluate("sessionhub.updateConsent({analytics: true, marketing: true})")
    assert marketing == page.evaluate("sessionhub.getConsent().marketing")
    [session] = tenant.sessions()
    state = consent_of(tenant, session["device_id"])
    assert (marketing, marketing, gpc) == (
        state["device"]["purposes"]["marketing"],
        state["effective"]["marketing"],
        state["do_not_sell"],
    )


# -- fingerprints -------------------------------------------------------------------------------


def _fingerprinting_page(tenant: Tenant) -> str:
    """A page whose consent banner (already answered) grants fingerprinting as it loads."""
    return tenant.page(
        "/fingerprinting",
        body="<script>addEventListener('DOMContentLoaded', () =>"
        " sessionhub.updateConsent({fingerprinting: true}))</script>",
    )


def test_no_fingerprint_is_computed_without_fingerprinting_consent(
    tenant: Tenant, context: BrowserContext
) -> None:
    """Without fingerprinting consent the device id is random and the canvas is never read."""
    context.add_init_script(CANVAS_SPY)
    page = context.new_page()
    visit(page, tenant.page("/no-fingerprint"))
    page.evaluate("sessionhub.updateConsent({analytics: true, marketing: true})")
    [session] = tenant.sessions()
    assert UUID.match(session["device_id"])
    assert 0 == page.evaluate("window.__canvasReads")


def test_a_fingerprinted_device_is_recognised_after_its_storage_was_cleared(
    tenant: Tenant, browser: Any, server: LiveServer
) -> None:
    """With fingerprinting consent the device id is a fingerprint hash: a second profile (empty
    storage) on the same machine gets the same id, so the device's sessions are one history."""
    devices = []
    for _ in range(2):
        context = browser.new_context()
        context.clock.install(time=server.now())
        context.add_init_script(CANVAS_SPY)
        try:
            page = context.new_page()
            visit(page, _fingerprinting_page(tenant))
            assert page.evaluate("window.__canvasReads") >= 1
            devices.append(stored_state(page, tenant)["d"])
        finally:
            context.close()
    assert devices[0] == devices[1]
    assert re.match(r"^fp_[0-9a-f]{16}$", devices[0])
    history = tenant.get(f"/v1/devices/{devices[0]}/sessions")["items"]
    assert 2 == len(history)


def test_withdrawing_fingerprinting_consent_goes_back_to_a_random_id(
    tenant: Tenant, page: Page
) -> None:
    """After fingerprinting consent is withdrawn, the next session's device id is random again."""
    visit(page, _fingerprinting_page(tenant))
    assert stored_state(page, tenant)["d"].startswith("fp_")
    page.evaluate("sessionhub.endSession('logout')")
    page.evaluate("sessionhub.updateConsent({fingerprinting: false})")
    page.evaluate("sessionhub.trackEvent('next', {})")
    page.evaluate("sessionhub.flushEvents()")
    newest = tenant.sessions()[0]
    assert UUID.match(newest["device_id"])
