"""Real Chromium (Debian's, through Playwright) against a real server with demo data.

The server is uvicorn in a thread on an SQLite file, with its engine reachable for setting
things up; the demo writes a week of traffic into the app ``shop`` first. What the
dashboard shows does not depend on the backend (the pages' numbers are compared with the
API on both backends in test_numbers.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from sessionhub import Engine, FakeClock, Settings
from sessionhub.api import create_app
from sessionhub.cli_demo import fill
from sessionhub.models import AppSettings
from tests.chromium import DESKTOP_UA, launch, require_chromium
from tests.servers import serve_in_thread

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, sync_playwright

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DAY_MS = 86_400_000
T = TypeVar("T")


@dataclass
class Live:
    """The server, its engine and loop, and the demo app's keys."""

    url: str
    engine: Engine
    clock: FakeClock
    loop: asyncio.AbstractEventLoop
    app_id: str
    secret: str
    publishable: str
    admin: str

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the API with the app's secret key, as a desktop browser (httpx's own user
        agent counts as a bot, and bots are left out of analytics)."""
        headers = {"Authorization": f"Bearer {self.secret}", "User-Agent": DESKTOP_UA}
        return httpx.request(method, self.url + path, headers=headers, timeout=20, **kwargs)


def start_server(data: Path) -> Iterator[Live]:
    """Serve on a free port with a week of demo data in the app ``shop``."""
    clock = FakeClock(int(time.time() * 1000) - 8 * DAY_MS)
    settings = Settings(
        database_url=f"sqlite:///{data / 'sessionhub.db'}",
        data_dir=data,
        run_worker=False,
        app_cache_s=0,
        rate_limits=False,
    )
    engine = Engine(settings, clock=clock)

    async def setup() -> tuple[str, str, str, str]:
        app = await engine.apps.create("shop", AppSettings(history_ttl_s=None))
        await engine.apps.create("empty shop")
        sk = await engine.keys.issue("secret", app.id, "tests")
        pk = await engine.keys.issue("publishable", app.id, "site")
        ak = await engine.keys.issue("admin", None, "tests")
        await fill(engine, app.id, clock, days=7, visits_per_day=25, seed=5)
        return app.id, sk.token, pk.token, ak.token

    with serve_in_thread(create_app(engine, run_worker=False)) as (url, loop):
        live = Live(url, engine, clock, loop, "", "", "", "")
        live.app_id, live.secret, live.publishable, live.admin = live.call(setup())
        yield live


def start_chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright, launch(playwright) as browser:
        yield browser


def sign_in(page: Page, live: Live, key: str) -> None:
    """Fill the sign-in form with ``key`` and land on the overview."""
    page.goto(live.url + "/dashboard/")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/dashboard/")


def shoot(page: Page, name: str) -> None:
    """Save a full-page screenshot under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
