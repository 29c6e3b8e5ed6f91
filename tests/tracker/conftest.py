"""Real Chromium (Debian's, through Playwright) against a real Sessionhub server.

The server is uvicorn in a thread, on **SQLite only** in a temporary directory: what the
tracker does in a browser does not depend on the backend (the API's behaviour on
PostgreSQL is tested in the other suites). Test pages come from a second small HTTP server
on another origin (localhost vs 127.0.0.1), so every call is cross-origin as on a real
site. The server reads time from a FakeClock; tests that need time to pass move it
together with the browser's (Playwright's clock API) instead of waiting.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from sessionhub import Engine, FakeClock, Settings
from sessionhub.api import create_app
from sessionhub.models import AppSettings
from tests.chromium import DESKTOP_UA, launch, require_chromium
from tests.servers import free_port, serve_in_thread

if TYPE_CHECKING:  # imported when a browser test runs: the API tests here don't need it
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

T = TypeVar("T")


@dataclass
class LiveServer:
    """The API on a real port, with the engine and loop behind it for setting things up."""

    url: str
    engine: Engine
    clock: FakeClock
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now_ms() / 1000, UTC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("tracker-server")
    clock = FakeClock(time.time_ns() // 1_000_000)
    settings = Settings(
        database_url=f"sqlite:///{data / 'sessionhub.db'}",
        data_dir=data,
        run_worker=False,
        app_cache_s=0,
        rate_limits=False,
    )
    engine = Engine(settings, clock=clock)
    with serve_in_thread(create_app(engine, run_worker=False)) as (url, loop):
        yield LiveServer(url, engine, clock, loop)


@dataclass
class Site:
    """A second origin serving the test pages: ``add`` a page, get its URL."""

    origin: str
    pages: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.origin + path


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    port = free_port()
    found = Site(f"http://localhost:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            html = found.pages.get(self.path.split("?")[0].split("#")[0])
            body = (html or "not found").encode()
            self.send_response(200 if html else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    sync_api = pytest.importorskip("playwright.sync_api")
    require_chromium()
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    with launch(playwright) as browser:
        yield browser


@dataclass
class Tenant:
    """An app whose allowed origin is the test site, with its keys and the server's URL."""

    app_id: str
    publishable: str
    secret: str
    api: str
    site: Site

    def page(self, path: str, attrs: str = "", body: str = "") -> str:
        """Register a page at ``path`` that loads the tracker with this app's key; its URL."""
        html = (
            f"<!doctype html><html><head><title>{path}</title>"
            f'<script defer src="{self.api}/sdk/sessionhub.js" data-key="{self.publishable}" '
            f"{attrs}></script></head><body>{body}</body></html>"
        )
        return self.site.add(path, html)

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path with the secret key; the JSON answer."""
        response = httpx.get(
            self.api + path,
            params=params,
            headers={"Authorization": f"Bearer {self.secret}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def sessions(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/v1/sessions", limit=500, **params)["items"]
        return items

    def events(self, session_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(f"/v1/sessions/{session_id}/events", limit=500)[
            "items"
        ]
        return items

    def all_events(self) -> list[dict[str, Any]]:
        return [e for s in self.sessions() for e in self.events(s["id"])]


def make_tenant(server: LiveServer, site: Site, **settings: Any) -> Tenant:
    async def create() -> Tenant:
        engine = server.engine
        app = await engine.apps.create(
            "tracker", AppSettings(allowed_origins=[site.origin], **settings)
        )
        pk = await engine.keys.issue("publishable", app.id)
        sk = await engine.keys.issue("secret", app.id)
        return Tenant(app.id, pk.token, sk.token, server.url, site)

    return server.call(create())


@pytest.fixture
def tenant(server: LiveServer, site: Site) -> Tenant:
    return make_tenant(server, site)


@pytest.fixture
def context(browser: Browser, server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile (empty storage) whose clock starts at the server's time."""
    context = browser.new_context(user_agent=DESKTOP_UA)
    context.set_default_timeout(10_000)  # a hang fails fast; nothing here takes near that
    context.clock.install(time=server.now())
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def is_events_post(response: Any) -> bool:
    return bool(response.url.endswith("/v1/events") and response.request.method == "POST")


def visit(page: Page, url: str, **goto: Any) -> Any:
    """Open ``url`` and wait until its first page view is stored; the answer to that send."""
    with page.expect_response(is_events_post) as sent:
        page.goto(url, **goto)
    return sent.value.json()


def wait_until(check: Callable[[], T], timeout: float = 10.0) -> T:
    """Poll ``check`` until it returns something truthy (for what the browser does alone)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)
