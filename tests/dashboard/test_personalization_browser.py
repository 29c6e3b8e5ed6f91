"""The personalization pages in real Chromium on the demo shop: walk them, build a segment
in the page, set up and start an experiment, grant and revoke; a screenshot of each."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.dashboard.browser import Live, shoot, sign_in, start_chromium, start_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from start_server(tmp_path_factory.mktemp("personalization-server"))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    yield from start_chromium()


def _page(chromium: Browser, live: Live, width: int, height: int) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live, live.admin)
    with page.expect_navigation():
        page.select_option("#app-switch", label="shop")
    try:
        yield page
        assert [] == errors, "the page's script failed"
    finally:
        context.close()


@pytest.fixture
def page(chromium: Browser, live: Live) -> Iterator[Page]:
    """A fresh profile signed in with the admin key, looking at the demo shop."""
    yield from _page(chromium, live, 1280, 900)


def test_walk_build_a_segment_and_start_an_experiment(page: Page, live: Live) -> None:
    """Each personalization page opens from the navigation with its chart drawn; a segment
    built from conditions in the page and an experiment set up in the form work end to end."""
    page.click('nav.side a:text-is("Profiles")')
    expect(page.locator("h1")).to_have_text("Profiles")
    expect(page.locator("#profiles-table tbody tr").first).to_be_visible()
    shoot(page, "personalization-profiles")
    page.click("#profiles-table tbody tr:first-child td:first-child a")
    expect(page.locator("#vector-chart[data-drawn]")).to_be_attached()
    expect(page.locator("#affinities tbody tr").first).to_be_visible()
    shoot(page, "personalization-profile")

    page.click('nav.side a:text-is("Segments")')
    expect(page.locator('#segments-table tr[data-segment="buyers"]')).to_be_visible()
    shoot(page, "personalization-segments")
    page.click('#segments-table tr[data-segment="buyers"] a')
    expect(page.locator("#size-chart[data-drawn]")).to_be_attached()
    shoot(page, "personalization-segment")

    # Build "returning visitors who did not buy" from two conditions in the page.
    page.click('nav.side a:text-is("Segments")')
    page.click("#new-segment")
    expect(page.locator("#rules-json")).to_be_hidden()  # the JSON editor waits behind "Kind"
    page.fill("#segment-key", "browsers_not_buyers")
    page.fill("#segment-name", "Browsers, not buyers <b>")
    first = page.locator("#conditions li").nth(0)
    first.locator("select[name=c_kind]").select_option("field")
    first.locator("input[name=c_subject]").fill("sessions")
    first.locator("select[name=c_op]").select_option("gte")
    first.locator("input[name=c_value]").fill("2")
    page.click("#add-condition")
    second = page.locator("#conditions li").nth(1)
    second.locator("select[name=c_negate]").select_option("not")
    second.locator("select[name=c_kind]").select_option("event")
    second.locator("input[name=c_subject]").fill("conversion")
    second.locator("select[name=c_op]").select_option("gte")
    second.locator("input[name=c_value]").fill("1")
    second.locator("input[name=c_days]").fill("30")
    shoot(page, "personalization-segment-builder")
    page.click("#save-segment")
    page.wait_for_url(re.compile(r"/dashboard/segments/browsers_not_buyers\?saved=1"))
    expect(page.locator("h1")).to_contain_text("Browsers, not buyers <b>")
    expect(page.locator("#rules-json")).to_contain_text('"within_days": 30')
    count = int(page.locator("#member-count").get_attribute("data-value") or "-1")
    api = live.api("GET", "/v1/segments/browsers_not_buyers/count").json()
    assert api["members"] == count
    shoot(page, "personalization-segment-saved")

    page.click('nav.side a:text-is("Recommendations")')
    page.select_option("#rec-strategy", "popular")
    page.fill("#rec-k", "3")
    page.click("#rec-submit")
    expect(page.locator("#rec-table tbody tr")).to_have_count(3)
    shoot(page, "personalization-recommendations")

    page.click('nav.side a:text-is("Experiments")')
    expect(page.locator('#experiments-table tr[data-experiment="checkout_button"]')).to_be_visible()
    shoot(page, "personalization-experiments")
    page.click('#experiments-table tr[data-experiment="checkout_button"] a')
    expect(page.locator("#results-chart[data-drawn]")).to_be_attached()
    expect(page.locator("#results-table tbody tr")).to_have_count(2)
    shoot(page, "personalization-experiment-results")

    page.click('nav.side a:text-is("Experiments")')
    page.click("#new-experiment")
    page.fill("#exp-key", "hero_copy")
    page.fill("#exp-name", "Hero copy")
    page.click("#add-variant")
    variants = page.locator("#variants li")
    expect(variants).to_have_count(3)
    variants.nth(2).locator("input[name=v_key]").fill("bold")
    variants.nth(2).locator("input[name=v_weight]").fill("2")
    variants.nth(2).locator("input[name=v_features]").fill('{"hero": "Pack light."}')
    page.fill("#exp-coverage", "80")
    page.select_option("#exp-segment", "browsers_not_buyers")
    page.fill("#exp-goal-event", "signup")
    page.fill("#exp-min-sample", "30")
    shoot(page, "personalization-experiment-setup")
    page.click("#save-experiment")
    page.wait_for_url(re.compile(r"/dashboard/experiments/hero_copy$"))
    expect(page.locator("#exp-status")).to_have_text("draft")
    expect(page.locator("#no-units")).to_be_visible()
    page.click("#start-experiment")
    expect(page.locator("#exp-status")).to_have_text("running")
    made = live.api("GET", "/v1/experiments/hero_copy").json()
    assert (0.8, "running") == (made["coverage"], made["status"])
    assert [("control", 1.0), ("treatment", 1.0), ("bold", 2.0)] == [
        (v["key"], v["weight"]) for v in made["variants"]
    ]
    assert "browsers_not_buyers" == made["targeting"]["segment"]
    shoot(page, "personalization-experiment-started")

    page.click('nav.side a:text-is("Federation")')
    page.select_option("#grant-app", label="empty shop")
    page.check("input[name=scopes][value=profile]")
    page.click("#grant-submit")
    expect(page.locator("#given-table tbody tr")).to_have_count(1)
    shoot(page, "personalization-federation")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#given-table button.danger")
    expect(page.locator("#given-table")).to_have_count(0)


@pytest.fixture
def phone(chromium: Browser, live: Live) -> Iterator[Page]:
    yield from _page(chromium, live, 390, 844)


def test_the_pages_fit_a_phone(phone: Page, live: Live) -> None:
    """On a phone the builder and the results fit the screen's width (no sideways page)."""
    for path, name in (
        ("/dashboard/segments/new", "segment-builder"),
        ("/dashboard/experiments/checkout_button", "experiment"),
        ("/dashboard/profiles", "profiles"),
    ):
        phone.goto(live.url + path)
        expect(phone.locator("h1")).to_be_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide"
        shoot(phone, f"personalization-phone-{name}")
