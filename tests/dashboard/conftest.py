"""The dashboard in-process: a signed-in httpx client over ASGI, on every backend."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from sessionhub import Engine
from sessionhub.api import create_app
from tests.conftest import Keys

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    """Submit the sign-in form with ``key`` the way a browser does."""
    form = await client.get("/dashboard/login")
    return await client.post(
        "/dashboard/login", data={"key": key, "csrf": csrf_of(form.text), "next": "/dashboard/"}
    )


@pytest.fixture
async def browser(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with a cookie jar, not signed in."""
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def dash(browser: httpx.AsyncClient, keys: Keys) -> httpx.AsyncClient:
    """A client signed in to the dashboard with the test app's secret key."""
    response = await sign_in(browser, keys.secret)
    assert 303 == response.status_code
    return browser


@pytest.fixture
async def admin_dash(browser: httpx.AsyncClient, keys: Keys) -> httpx.AsyncClient:
    """A client signed in with the admin key."""
    response = await sign_in(browser, keys.admin)
    assert 303 == response.status_code
    return browser
