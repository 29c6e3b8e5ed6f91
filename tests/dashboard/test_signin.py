"""Signing in to the dashboard: keys, the login cookie, CSRF, sign-out, app switching."""

from __future__ import annotations

import httpx

from sessionhub import Engine
from sessionhub.models import SessionCreate
from tests.conftest import Keys
from tests.dashboard.conftest import csrf_of, sign_in


async def test_pages_send_a_visitor_without_a_sign_in_to_the_form(
    browser: httpx.AsyncClient,
) -> None:
    """Every page redirects to the sign-in form, keeping where the visitor wanted to go."""
    response = await browser.get("/dashboard/sessions?status=active")
    assert 303 == response.status_code
    assert (
        "/dashboard/login?next=%2Fdashboard%2Fsessions%3Fstatus%3Dactive"
        == (response.headers["location"])
    )


async def test_a_secret_key_signs_in_with_an_httponly_strict_cookie(
    browser: httpx.AsyncClient, keys: Keys
) -> None:
    """The login cookie is HttpOnly and SameSite=Strict, scoped to /dashboard."""
    response = await sign_in(browser, keys.secret)
    assert 303 == response.status_code
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and "sessionhub_login=" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS adds it
    assert 200 == (await browser.get("/dashboard/")).status_code


async def test_the_cookie_is_secure_over_https(engine: Engine, keys: Keys) -> None:
    """Behind HTTPS the login cookie also carries Secure."""
    from sessionhub.api import create_app

    transport = httpx.ASGITransport(app=create_app(engine, run_worker=False, manage_engine=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await sign_in(client, keys.secret)
    assert "Secure" in response.headers["set-cookie"]


async def test_a_wrong_or_publishable_key_does_not_sign_in(
    browser: httpx.AsyncClient, keys: Keys
) -> None:
    """A wrong key is a 401 and a publishable key a 403, each showing the form again."""
    wrong = await sign_in(browser, "sk_not-a-key")
    assert 401 == wrong.status_code
    assert "unknown, revoked or expired" in wrong.text
    publishable = await sign_in(browser, keys.publishable)
    assert 403 == publishable.status_code
    assert "sessionhub_login=" not in publishable.headers.get("set-cookie", "")


async def test_sign_in_refuses_a_form_without_its_csrf_cookie(
    browser: httpx.AsyncClient, keys: Keys
) -> None:
    """The sign-in form is a double submit: a post from elsewhere lacks the cookie."""
    response = await browser.post(
        "/dashboard/login", data={"key": keys.secret, "csrf": "forged", "next": "/dashboard/"}
    )
    assert 403 == response.status_code


async def test_sign_in_never_redirects_off_the_dashboard(
    browser: httpx.AsyncClient, keys: Keys
) -> None:
    """A ``next`` pointing at another site lands on the overview instead."""
    form = await browser.get("/dashboard/login")
    response = await browser.post(
        "/dashboard/login",
        data={"key": keys.secret, "csrf": csrf_of(form.text), "next": "//evil.example/x"},
    )
    assert "/dashboard/" == response.headers["location"]


async def test_a_state_change_without_the_csrf_token_is_refused(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Posts need the login's CSRF token, as a form field or the htmx header."""
    session, _ = await engine.sessions.create(keys.app_id, _visit())
    refused = await dash.post(f"/dashboard/sessions/{session.id}/end")
    assert 403 == refused.status_code
    assert "active" == (await engine.sessions.get(keys.app_id, session.id)).status
    token = csrf_of((await dash.get(f"/dashboard/sessions/{session.id}")).text)
    done = await dash.post(
        f"/dashboard/sessions/{session.id}/end", headers={"X-CSRF-Token": token, "HX-Request": "1"}
    )
    assert 204 == done.status_code
    assert f"/dashboard/sessions/{session.id}" == done.headers["hx-redirect"]
    assert "ended" == (await engine.sessions.get(keys.app_id, session.id)).status


async def test_sign_out_ends_the_login_on_the_server(dash: httpx.AsyncClient) -> None:
    """After signing out, the old cookie no longer opens any page."""
    cookie = dash.cookies.get("sessionhub_login")
    token = csrf_of((await dash.get("/dashboard/")).text)
    response = await dash.post("/dashboard/logout", data={"csrf": token})
    assert 303 == response.status_code
    dash.cookies.set("sessionhub_login", cookie or "", domain="testserver", path="/dashboard")
    assert 303 == (await dash.get("/dashboard/")).status_code


async def test_revoking_the_key_ends_its_sign_ins(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A login lasts only while the key it signed in with is valid."""
    caller = await engine.keys.authenticate(keys.secret)
    await engine.keys.revoke(caller.key_id)
    assert 303 == (await dash.get("/dashboard/")).status_code


async def test_an_admin_switches_apps_and_a_secret_key_cannot(
    browser: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The app switcher moves an admin's view to another app; a secret key's login is 403."""
    other = await engine.apps.create("second shop")
    await sign_in(browser, keys.admin)
    page = await browser.get("/dashboard/")
    assert "second shop" in page.text
    switched = await browser.post(
        "/dashboard/switch", data={"app_id": other.id, "csrf": csrf_of(page.text)}
    )
    assert 303 == switched.status_code
    settings = await browser.get("/dashboard/settings")
    assert "Settings of second shop" in settings.text

    secret = httpx.AsyncClient(transport=browser._transport, base_url="http://testserver")
    async with secret:
        await sign_in(secret, keys.secret)
        token = csrf_of((await secret.get("/dashboard/")).text)
        refused = await secret.post("/dashboard/switch", data={"app_id": other.id, "csrf": token})
    assert 403 == refused.status_code


def _visit() -> SessionCreate:
    return SessionCreate(device_id="d-1")


async def test_live_streams_need_a_sign_in(browser: httpx.AsyncClient) -> None:
    """The Server-Sent Events endpoints answer 401 without a sign-in (no redirect loop)."""
    assert 401 == (await browser.get("/dashboard/live")).status_code
    assert 401 == (await browser.get("/dashboard/work-live")).status_code
