"""The dashboard in real Chromium: sign in, walk every page, filter, pick dates, build a
funnel, watch active now update live, erase a user, stay escaped, fit a phone."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from sessionhub.dashboard import overview
from tests.dashboard.browser import Live, shoot, sign_in, start_chromium, start_server

PAYLOAD_SCRIPT = "<script>window.__pwned = 1</script>"
PAYLOAD_IMG = '"><img src=x onerror="window.__pwned=2">'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from start_server(tmp_path_factory.mktemp("dashboard-server"))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from start_chromium()


@pytest.fixture
def page(chromium: Browser, live: Live) -> Iterator[Page]:
    """A fresh profile signed in with the admin key, looking at the demo app."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, live, live.admin)
    with page.expect_navigation():
        page.select_option("#app-switch", label="shop")
    try:
        yield page
    finally:
        context.close()


def _now_iso(live: Live) -> str:
    return datetime.fromtimestamp(live.clock.now_ms() / 1000, UTC).isoformat()


def test_walk_every_page_with_a_screenshot_each(page: Page, live: Live) -> None:
    """Each page of the navigation opens with data, and is saved as a screenshot."""
    expect(page.locator('[data-metric="sessions"]')).not_to_have_text("0")
    # The median and the top lists arrive as fragments right after the page.
    expect(page.locator('table[data-dimension="country"] tbody tr').first).to_be_visible()
    expect(page.locator('[data-metric="median_duration"]')).to_be_visible()
    expect(page.locator("[aria-busy=true]")).to_have_count(0)
    shoot(page, "overview")
    nav = {
        "Sessions": "sessions",
        "Users": "users",
        "Funnels": "funnels",
        "Paths": "paths",
        "Retention": "retention",
        "Geography": "geography",
        "Devices": "devices",
        "Conversations": "conversations",
        "Work sessions": "work",
        "Privacy": "privacy",
        "Settings": "settings",
    }
    for label, name in nav.items():
        page.click(f'nav.side a:text-is("{label}")')
        page.wait_for_load_state("load")
        expect(page.locator("nav.side a[aria-current=page]")).to_have_text(label)
        expect(page.locator("h1")).to_be_visible()
        if name == "geography":
            expect(page.locator("#world[data-ready] path").first).to_be_attached()
        shoot(page, name)
    page.click('nav.side a:text-is("Sessions")')
    page.click("#sessions-table tbody tr:first-child td:nth-child(2) a")
    expect(page.locator("h2#journey")).to_be_visible()
    shoot(page, "session")
    page.click('nav.side a:text-is("Users")')
    page.click(".table tbody tr:first-child a")
    expect(page.locator("h2#pattern")).to_be_visible()
    shoot(page, "user")
    page.click('nav.side a:text-is("Conversations")')
    page.click("#conversations-table tbody tr:first-child td:nth-child(2) a")
    expect(page.locator(".transcript .msg").first).to_be_visible()
    shoot(page, "conversation")


def test_filters_and_the_date_picker_travel_in_the_url(page: Page, live: Live) -> None:
    """A click on a top-list row filters every number; the range select and a custom range
    change the URL; the filter chip removes the filter again."""
    total = int(page.locator('[data-metric="sessions"]').get_attribute("data-value") or "0")
    page.click('table[data-dimension="source"] tbody tr:first-child a')
    page.wait_for_url(re.compile(r"f=source%3A"))
    expect(page.locator(".chips li")).to_have_count(1)
    filtered = int(page.locator('[data-metric="sessions"]').get_attribute("data-value") or "0")
    assert 0 < filtered < total
    # The filter follows to other pages through the navigation.
    page.click('nav.side a:text-is("Devices")')
    page.wait_for_url(re.compile(r"/reports/devices\?f=source%3A"))
    page.click('nav.side a:text-is("Overview")')
    with page.expect_navigation():
        page.select_option("#range", "7d")
    assert "range=7d" in page.url
    expect(page.locator(".chips li")).to_have_count(1)
    page.select_option("#range", "custom")
    expect(page.locator("#from")).to_be_visible()
    today = datetime.fromtimestamp(live.clock.now_ms() / 1000, UTC).date()
    page.fill("#from", f"{today.replace(day=1):%Y-%m-%d}")
    page.fill("#to", f"{today:%Y-%m-%d}")
    page.click(".custom button")
    page.wait_for_url(re.compile(r"from=\d{4}-\d\d-\d\d&to="))
    expect(page.locator("#series-title")).to_contain_text(f"{today:%Y-%m-%d}")
    page.click(".chips a")
    page.wait_for_load_state("load")
    expect(page.locator(".chips li")).to_have_count(0)
    shoot(page, "overview-custom-range")


def test_build_a_funnel_in_the_page(page: Page) -> None:
    """Steps are edited, added and removed in the page; the result shows a chart and a table."""
    page.click('nav.side a:text-is("Funnels")')
    values = page.locator("[data-step-value]")
    values.nth(0).fill("/")
    values.nth(1).fill("/products")
    page.locator("[data-step-kind]").nth(2).select_option("page")
    values.nth(2).fill("/cart")
    page.click("#add-step")
    expect(values).to_have_count(4)
    page.locator("[data-step-kind]").nth(3).select_option("event")
    values.nth(3).fill("conversion")
    page.click("#funnel-form button[type=submit]")
    page.wait_for_url(re.compile(r"step=page%3A%2F&"))
    rows = page.locator("#funnel-table tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#funnel-chart")).to_be_visible()
    counts = [int(c) for c in page.locator("#funnel-table td[data-value]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)")]  # fmt: skip
    assert counts[0] >= counts[1] >= counts[2] >= counts[3]
    assert counts[0] > 0
    shoot(page, "funnel")


def test_active_now_updates_over_server_sent_events(
    page: Page, live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visit that starts while the overview is open shows in "active now" without a reload."""
    monkeypatch.setattr(overview, "LIVE_EVERY_S", 0.3)
    page.goto(live.url + "/dashboard/")
    box = page.locator('[data-metric="active_now"]')
    expect(page.locator("#active-now[data-updated]")).to_be_attached()
    before = int(box.inner_text().replace(",", ""))
    for n in range(3):
        response = live.api(
            "POST",
            "/v1/events",
            json={"events": [{"device_id": f"live-{n}-{time.time()}", "type": "page_view",
                              "url": "https://shop.example.com/live", "timestamp": _now_iso(live)}]},
        )  # fmt: skip
        assert 200 == response.status_code, response.text
        assert 1 == response.json()["accepted"], response.text
    expect(box).to_have_text(str(before + 3), timeout=10_000)


def test_erase_a_user_from_their_page(page: Page, live: Live) -> None:
    """The erase form wants the user id typed; then the user is gone from the API too."""
    page.click('nav.side a:text-is("Users")')
    link = page.locator(".table tbody tr:first-child a")
    user_id = link.inner_text()
    link.click()
    page.click("text=Erase this user…")
    page.fill("#erase-form input[name=confirm]", user_id)
    page.click("#erase-form button[type=submit]")
    expect(page.locator(".notice")).to_contain_text(f"Erased everything stored about {user_id}")
    left = live.api("GET", f"/v1/users/{user_id}/sessions").json()
    assert [] == left["items"]
    shoot(page, "users-after-erase")


def test_keys_are_created_shown_once_and_revoked(page: Page, live: Live) -> None:
    """A new key's token is shown right after creating it, never again; revoking removes it."""
    page.click('nav.side a:text-is("Settings")')
    page.fill("input[name=name]", "browser-made")
    page.select_option("select[name=kind]", "secret")
    page.click("form.inline:has(input[name=name]) button[type=submit]")
    token = page.locator("#issued-token").inner_text()
    assert token.startswith("sk_")
    page.goto(live.url + "/dashboard/settings")
    expect(page.locator("#issued-token")).to_have_count(0)
    row = page.locator("#keys-table tr", has_text="browser-made")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.danger").click()
    page.wait_for_load_state("load")
    expect(page.locator("#keys-table tr", has_text="browser-made")).to_have_count(0)


def test_untrusted_strings_are_shown_and_never_run(page: Page, live: Live) -> None:
    """Script and onerror payloads in titles, paths, properties, user ids and messages show as
    text on every page that prints them, and nothing runs: no flag, no dialog."""
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    user = f"{PAYLOAD_IMG}user"
    events = [
        {"device_id": "xss-device", "type": "page_view", "timestamp": _now_iso(live),
         "url": f"https://shop.example.com/{PAYLOAD_SCRIPT}", "title": PAYLOAD_SCRIPT,
         "referrer": f"https://evil.example/{PAYLOAD_IMG}"},
        {"device_id": "xss-device", "type": "action", "timestamp": _now_iso(live),
         "properties": {"label": PAYLOAD_IMG, PAYLOAD_SCRIPT: "key"}},
    ]  # fmt: skip
    ingested = live.api("POST", "/v1/events", json={"events": events}).json()
    session_id = ingested["sessions"][0]
    assert (
        200
        == live.api(
            "POST", "/v1/identify", json={"device_id": "xss-device", "user_id": user}
        ).status_code
    )
    chat = live.api(
        "POST",
        "/v1/sessions/ses_xsschat0000000000000001/messages",
        params={"user_id": user},
        json={"role": "user", "content": f"{PAYLOAD_SCRIPT} and {PAYLOAD_IMG}"},
    )
    assert 201 == chat.status_code, chat.text
    visited = [
        f"/dashboard/sessions/{session_id}",
        "/dashboard/sessions",
        "/dashboard/?range=today",
        "/dashboard/reports/paths?range=today&start=page:/",
        "/dashboard/users",
        "/dashboard/conversations",
        "/dashboard/conversations/ses_xsschat0000000000000001",
    ]
    for path in visited:
        page.goto(live.url + path)
        page.wait_for_load_state("load")
        page.wait_for_timeout(150)
        assert page.evaluate("window.__pwned") is None, path
        assert 0 == page.locator("main img").count(), path
    page.goto(f"{live.url}/dashboard/sessions/{session_id}")
    expect(page.locator("ol.timeline")).to_contain_text(PAYLOAD_SCRIPT)
    page.goto(live.url + "/dashboard/conversations/ses_xsschat0000000000000001")
    expect(page.locator(".transcript")).to_contain_text(PAYLOAD_IMG)
    page.goto(live.url + "/dashboard/users")
    page.locator(".table a", has_text="user").first.click()
    expect(page.locator("h1")).to_contain_text(user)
    assert page.evaluate("window.__pwned") is None
    assert [] == dialogs
    shoot(page, "escaped-session")


def test_fits_a_phone_and_works_from_the_keyboard(chromium: Browser, live: Live) -> None:
    """At 375 px nothing overflows sideways; Tab reaches the skip link and the navigation."""
    context = chromium.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, live, live.secret)
        for path, name in (
            ("/dashboard/", "phone-overview"),
            ("/dashboard/sessions", "phone-sessions"),
        ):
            page.goto(live.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 376, f"{path} is {width}px wide"
            shoot(page, name)
        page.goto(live.url + "/dashboard/")
        page.keyboard.press("Tab")
        assert "Skip to content" == page.evaluate("document.activeElement.textContent")
        page.keyboard.press("Enter")
        assert "main" == page.evaluate("document.activeElement.id")
        page.goto(live.url + "/dashboard/")
        for _ in range(6):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.closest('nav') !== null"):
                break
        else:
            pytest.fail("the navigation is not reachable with Tab")
        assert "Overview" == page.evaluate("document.activeElement.textContent")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/dashboard/sessions" in page.url
    finally:
        context.close()


def test_an_app_without_data_shows_the_snippet(page: Page, live: Live) -> None:
    """The empty app's overview and sessions say there is nothing yet and give the snippet."""
    with page.expect_navigation():
        page.select_option("#app-switch", label="empty shop")
    expect(page.locator(".empty")).to_contain_text("here is the snippet to paste")
    expect(page.locator(".empty pre")).to_contain_text("/sdk/sessionhub.js")
    shoot(page, "empty-overview")


def test_work_board_updates_live_in_a_second_tab(chromium: Browser, live: Live) -> None:
    """Start and complete a work session in one tab; the board in another tab follows over
    Server-Sent Events, without a reload. A new session comes from a template's dialog."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        first = context.new_page()
        sign_in(first, live, live.secret)
        first.goto(live.url + "/dashboard/work?as=team-1")
        first.click("text=New from template…")
        expect(first.locator("dialog#new-work")).to_be_visible()
        first.select_option("#template-select", index=1)
        first.fill("dialog input[name=name]", "Launch the spring catalogue")
        first.click("dialog button[type=submit]")
        expect(first.locator("h1")).to_contain_text("Launch the spring catalogue")
        expect(first.locator("#w-goals + ul li").first).not_to_have_text("none")
        shoot(first, "work-session")

        second = context.new_page()
        second.goto(live.url + "/dashboard/work?as=team-1")
        expect(second.locator("#board[data-live]")).to_be_attached()
        card = second.locator(".work-card", has_text="Launch the spring catalogue")
        expect(card).to_have_count(1)
        assert "draft" == card.locator("xpath=ancestor::section[1]").get_attribute("data-status")

        first.goto(live.url + "/dashboard/work?as=team-1")
        mine = first.locator(".work-card", has_text="Launch the spring catalogue")
        mine.locator("button", has_text="Start").click()
        active = second.locator('section[data-status="active"] .work-card', has_text="spring")
        expect(active).to_have_count(1)
        first.locator(".work-card", has_text="Launch the spring catalogue").locator(
            "button", has_text="Complete"
        ).click()
        done = second.locator('section[data-status="completed"] .work-card', has_text="spring")
        expect(done).to_have_count(1)
        shoot(second, "work-board")
    finally:
        context.close()


def test_privacy_page_shows_consent_requests_and_the_audit_chain(page: Page, live: Live) -> None:
    """Consent rates, subject requests and, for an admin, the audit log with its chain."""
    page.click('nav.side a:text-is("Privacy")')
    expect(page.locator("#consent-table tbody tr")).to_have_count(4)
    expect(page.locator("#chain-status")).to_contain_text("Chain intact")
    expect(page.locator("#audit-table tbody tr").first).to_be_visible()
    shoot(page, "privacy")
