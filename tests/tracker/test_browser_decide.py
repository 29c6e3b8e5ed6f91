"""``sessionhub.decide()`` in real Chromium: variants and features from GET /v1/decide for
the tracker's device, session and user, one request per page load, exposures once, and
nothing asked without personalization consent.

Browser tests run on SQLite only (see conftest.py); decide's storage behaviour is covered
on PostgreSQL in tests/personalization.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page

from sessionhub.models.personalization import ExperimentIn
from sessionhub.storage import personalization_experiments as q
from tests.tracker.conftest import LiveServer, Site, Tenant, make_tenant, visit

# Counts the page's calls to /v1/decide.
COUNT_DECIDES = """
window.__decides = 0;
const realFetch = window.fetch;
window.fetch = (url, options) => {
  if (String(url).includes('/v1/decide')) window.__decides++;
  return realFetch(url, options);
};
"""


def experiment(server: LiveServer, tenant: Tenant, key: str, unit: str, **more: Any) -> None:
    """A running experiment over ``unit`` that takes everyone, one feature per variant."""
    spec = ExperimentIn.model_validate(
        {
            "key": key,
            "unit": unit,
            "variants": [
                {"key": "control", "weight": 1, "features": {f"{key}_on": False}},
                {"key": "treatment", "weight": 1, "features": {f"{key}_on": True}},
            ],
            "goal": {"event": "conversion"},
            "status": "running",
            **more,
        }
    )
    server.call(server.engine.personalization.experiments.create(tenant.app_id, spec))


def exposures(server: LiveServer, tenant: Tenant, key: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = server.call(
        server.engine.db.read(q.exposure_rows, tenant.app_id, key)
    )
    return rows


def decide(page: Page, *args: Any) -> Any:
    call = ", ".join(json.dumps(a) for a in args)
    return page.evaluate(f"sessionhub.decide({call})")


def test_decide_answers_each_units_variant_and_logs_each_exposure_once(
    server: LiveServer, tenant: Tenant, page: Page
) -> None:
    """Experiments over the device, the session and the user each get the tracker's id
    for that unit; the answer matches the server's sticky assignment, its features merge,
    and a second call on the page is the same answer without a second request."""
    for key, unit in (("by_device", "device"), ("by_session", "session"), ("by_user", "user")):
        experiment(server, tenant, key, unit)
    page.add_init_script(COUNT_DECIDES)
    visit(page, tenant.page("/shop"))
    page.evaluate("sessionhub.setUserId('user-7')")
    answer = decide(page)
    again = decide(page)
    assert answer == again
    assert 1 == page.evaluate("window.__decides")
    device = page.evaluate(f"JSON.parse(localStorage.getItem('sessionhub:{tenant.publishable}')).d")
    session = page.evaluate("sessionhub.getSessionId()")
    units = {"by_device": device, "by_session": session, "by_user": "user-7"}
    assert set(units) == set(answer["variants"])
    for key, unit in units.items():
        variant = answer["variants"][key]
        assert [(variant, unit)] == exposures(server, tenant, key)
        assert (variant == "treatment") == answer["features"][f"{key}_on"]
    expected = server.call(
        server.engine.personalization.experiments.decide(
            tenant.app_id, user_id="user-7", device_id=device, session_id=session, track=False
        )
    )
    assert expected.variants == answer["variants"]


def test_decide_sends_attributes_for_targeting_and_can_skip_exposures(
    server: LiveServer, tenant: Tenant, page: Page
) -> None:
    """Attributes reach the targeting conditions; ``track: false`` decides without
    logging an exposure; different attributes are a new request."""
    experiment(
        server,
        tenant,
        "germany",
        "device",
        targeting={"conditions": {"trait": "country", "op": "eq", "value": "DE"}},
    )
    page.add_init_script(COUNT_DECIDES)
    visit(page, tenant.page("/de"))
    assert {} == decide(page, {"country": "FR"})["variants"]
    peek = decide(page, {"country": "DE"}, {"track": False})
    assert {"germany"} == set(peek["variants"])
    assert [] == exposures(server, tenant, "germany")
    tracked = decide(page, {"country": "DE"})
    assert peek["variants"] == tracked["variants"]
    assert [tracked["variants"]["germany"]] == [v for v, _ in exposures(server, tenant, "germany")]
    assert 3 == page.evaluate("window.__decides")


def test_decide_asks_nothing_without_personalization_consent(
    server: LiveServer, site: Site, page: Page
) -> None:
    """Where consent is required, decide answers no variants and sends no request until
    the visitor agrees to analytics and personalization; then it asks the server."""
    tenant = make_tenant(server, site, consent_mode="required")
    experiment(server, tenant, "banner", "device")
    page.add_init_script(COUNT_DECIDES)
    page.goto(tenant.page("/consent"))
    page.wait_for_function("window.sessionhub")
    assert {"variants": {}, "features": {}} == decide(page)
    page.evaluate("sessionhub.updateConsent({analytics: true})")
    assert {"variants": {}, "features": {}} == decide(page)
    assert 0 == page.evaluate("window.__decides")
    page.evaluate("sessionhub.updateConsent({personalization: true})")
    answer = decide(page)
    assert {"banner"} == set(answer["variants"])
    assert 1 == page.evaluate("window.__decides")
    assert 1 == len(exposures(server, tenant, "banner"))


def test_a_refused_decide_rejects_and_is_asked_again(
    server: LiveServer, tenant: Tenant, page: Page
) -> None:
    """A decide the server refuses (here: attributes that are no object) rejects with the
    error, and is not kept: the next call asks again."""
    page.add_init_script(COUNT_DECIDES)
    visit(page, tenant.page("/bad"))
    error = page.evaluate("sessionhub.decide([1, 2]).then(() => null, (e) => e)")
    assert "attributes" == error["details"]["field"]
    page.evaluate("sessionhub.decide([1, 2]).catch(() => null)")
    assert 2 == page.evaluate("window.__decides")
