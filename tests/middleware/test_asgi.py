"""The ASGI middleware on the FastAPI example app: embedded (Engine) and remote (AsyncClient)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI

from sessionhub import AsyncClient, Engine
from sessionhub.api import create_app
from sessionhub.middleware import SessionhubMiddleware
from tests.conftest import Keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a module (the examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _example_app(engine: Engine, mode: str, keys: Keys) -> FastAPI:
    """The example app: as shipped (embedded), or with its middleware pointed at the API."""
    app: FastAPI = load_example("fastapi_app").build(engine)
    if mode == "remote":
        api = httpx.ASGITransport(app=create_app(engine, run_worker=False, manage_engine=False))
        client = AsyncClient("http://sessionhub", key=keys.secret, transport=api)
        app.user_middleware.clear()
        app.add_middleware(SessionhubMiddleware, client=client)
    return app


@pytest.fixture(params=["embedded", "remote"])
async def site(
    request: pytest.FixtureRequest, engine: Engine, keys: Keys
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser-like client of the example app, and the Sessionhub app its visits go to."""
    app = _example_app(engine, request.param, keys)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://shop.test") as browser,
    ):
        names = {a.name: a.id for a in await engine.apps.list()}
        yield browser, names["example"] if request.param == "embedded" else keys.app_id


async def test_a_visitor_gets_one_session_for_their_page_views(
    site: tuple[httpx.AsyncClient, str], engine: Engine
) -> None:
    """Two pages, one session: its cookie is HttpOnly and SameSite=Lax, both views are stored."""
    browser, app_id = site
    first = await browser.get("/", headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    await browser.get("/products/tea")
    session_id = browser.cookies["sessionhub"]
    timeline = await engine.events.timeline(app_id, session_id)
    cookie = next(v for v in first.headers.get_list("set-cookie") if v.startswith("sessionhub="))
    assert (["page_view", "page_view", "action"], True, True) == (
        [event.type for event in timeline.items],
        "HttpOnly" in cookie,
        "SameSite=Lax" in cookie,
    )


async def test_login_links_the_user_and_logout_ends_the_session(
    site: tuple[httpx.AsyncClient, str], engine: Engine
) -> None:
    """identify() on login sets the session's user; end() on logout ends it; the next page starts anew."""
    browser, app_id = site
    await browser.get("/")
    first = browser.cookies["sessionhub"]
    await browser.post("/login", params={"user": "ada"})
    linked = await engine.sessions.get(app_id, first)
    out = await browser.post("/logout")
    ended = await engine.sessions.get(app_id, first)
    await browser.get("/")
    assert ("ada", "ended", "logout", True) == (
        linked.user_id,
        ended.status,
        ended.end_reason,
        any("sessionhub=;" in v for v in out.headers.get_list("set-cookie")),
    )
    assert first != browser.cookies["sessionhub"]


async def test_a_server_error_is_recorded_as_an_error_event(
    site: tuple[httpx.AsyncClient, str], engine: Engine
) -> None:
    """A 500 from the app becomes an `error` event with its status in the visitor's session."""
    browser, app_id = site
    await browser.get("/")
    response = await browser.get("/broken")
    timeline = await engine.events.timeline(app_id, browser.cookies["sessionhub"])
    errors = [event for event in timeline.items if event.type == "error"]
    assert (500, [500]) == (response.status_code, [e.properties["status"] for e in errors])


async def test_an_ended_session_in_the_cookie_is_replaced(
    site: tuple[httpx.AsyncClient, str], engine: Engine
) -> None:
    """When Sessionhub says the cookie's session is over, the page view starts a new session."""
    browser, app_id = site
    await browser.get("/")
    old = browser.cookies["sessionhub"]
    await engine.sessions.revoke(app_id, old)
    await browser.get("/")
    new = browser.cookies["sessionhub"]
    assert (True, 1) == (old != new, len((await engine.events.timeline(app_id, new)).items))


async def test_over_https_the_cookies_are_secure_host_cookies(engine: Engine, keys: Keys) -> None:
    """On HTTPS the cookies are __Host- prefixed and Secure."""
    app = _example_app(engine, "embedded", keys)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://shop.test") as browser,
    ):
        response = await browser.get("/")
    cookies = response.headers.get_list("set-cookie")
    assert {"__Host-sessionhub", "__Host-sessionhub_device"} == {
        value.split("=", 1)[0] for value in cookies
    }
    assert all("Secure" in value and "Path=/" in value for value in cookies)


async def test_an_unreachable_sessionhub_never_breaks_the_app() -> None:
    """With the server down, pages still answer 200 (untracked) and login still works."""
    app = FastAPI()
    down = AsyncClient("http://127.0.0.1:9", timeout=0.5)
    app.add_middleware(SessionhubMiddleware, client=down)

    @app.get("/")
    async def home() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as browser:
        response = await browser.get("/")
    assert (200, {"ok": True}) == (response.status_code, response.json())
