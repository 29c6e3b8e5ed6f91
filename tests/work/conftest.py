"""Fixtures for work sessions: an app's secret key and a client acting as a given user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from sessionhub import Engine, FakeClock, Settings
from tests.conftest import Keys, bearer


def as_user(keys: Keys, user: str, **extra: str) -> dict[str, str]:
    """Headers of a call made by the app's server on behalf of ``user``."""
    return {**bearer(keys.secret), "X-Sessionhub-User": user, **extra}


Call = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def call(api: httpx.AsyncClient, keys: Keys) -> Call:
    """``await call(method, path, user="alice", json=..., headers=...)``: one API request."""

    async def request(method: str, path: str, user: str = "alice", **kwargs: Any) -> httpx.Response:
        headers = as_user(keys, user, **kwargs.pop("headers", {}))
        return await api.request(method, path, headers=headers, **kwargs)

    return request


async def new_session(call: Call, user: str = "alice", **body: Any) -> dict[str, Any]:
    """Create a work session over the API and return it (asserting it was created)."""
    if "template_id" not in body:
        body = {"name": "Work", **body}
    response = await call("POST", "/v1/work/sessions", user=user, json=body)
    assert 201 == response.status_code, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def keys_engine_small(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Engine, str]]:
    """A second engine on the same database with a 10-byte attachment limit, and an app of it."""
    small = settings.replace(work_attachment_max_bytes=10, data_dir=settings.data_dir / "small")
    engine = await Engine(small, clock=clock).start(migrate=False)
    try:
        app = await engine.apps.create("small")
        yield engine, app.id
    finally:
        await engine.close()
