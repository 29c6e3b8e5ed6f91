"""Origin rules for keys: publishable keys from allowed origins and write-only; secret keys not from web pages."""

from __future__ import annotations

import httpx
import pytest

from sessionhub import Engine
from sessionhub.models import SessionCreate
from tests.conftest import Keys, bearer
from tests.test_keys_and_tenancy import ROUTES

SHOP = "https://shop.example"


async def allow(api: httpx.AsyncClient, keys: Keys, **settings: object) -> None:
    response = await api.patch(
        f"/v1/apps/{keys.app_id}", json={"settings": settings}, headers=bearer(keys.admin)
    )
    assert 200 == response.status_code, response.text


@pytest.mark.parametrize(
    ("allowed", "origin", "status"),
    [
        ([SHOP], SHOP, 201),
        ([SHOP], "https://evil.example", 403),
        ([SHOP], "https://shop.example.evil.example", 403),
        ([SHOP], "http://shop.example", 403),
        ([SHOP], None, 201),
        (["*"], "https://anywhere.example", 201),
        ([], "https://anywhere.example", 201),
    ],
)
async def test_publishable_keys_work_only_from_the_apps_allowed_origins(
    api: httpx.AsyncClient, keys: Keys, allowed: list[str], origin: str | None, status: int
) -> None:
    """A publishable key from a page is let in only when its exact origin is allowed (any when none are listed)."""
    await allow(api, keys, allowed_origins=allowed)
    headers = bearer(keys.publishable) | ({"Origin": origin} if origin else {})
    response = await api.post("/v1/sessions", json={}, headers=headers)
    assert status == response.status_code
    if status == 403:
        assert origin == response.json()["error"]["details"]["origin"]


async def test_a_refused_origin_is_refused_on_every_publishable_endpoint(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Heartbeats, ends and events from a foreign origin are refused like session starts."""
    await allow(api, keys, allowed_origins=[SHOP])
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="d1"))
    headers = bearer(keys.publishable) | {"Origin": "https://evil.example"}
    calls = [
        ("POST", f"/v1/sessions/{session.id}/heartbeat", None),
        ("POST", f"/v1/sessions/{session.id}/end", {"reason": "logout"}),
        ("POST", "/v1/events", {"events": [{"session_id": session.id, "type": "action"}]}),
        ("POST", f"/v1/sessions/{session.id}/events", {"events": [{"type": "action"}]}),
    ]
    statuses = [
        (await api.request(method, path, json=body, headers=headers)).status_code
        for method, path, body in calls
    ]
    assert [403, 403, 403, 403] == statuses
    assert "active" == (await engine.sessions.get(keys.app_id, session.id)).status


# What a page needs to read: the tracker's own settings (consent mode) and the variants of
# the running experiments for the visitor (feature flags, as PostHog and GrowthBook serve
# them to browsers). Neither shows stored data about sessions, users or events.
TRACKER_READS = {("GET", "/v1/tracker/config"), ("GET", "/v1/decide")}


def test_publishable_keys_are_write_only() -> None:
    """Every endpoint a publishable key may call writes (POST), but the tracker's configuration and flags."""
    readable = [
        f"{method} {path}"
        for (method, path), route in ROUTES.items()
        if "publishable" in route.scope and method != "POST" and (method, path) not in TRACKER_READS
    ]
    assert [] == readable


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/sessions"),
        ("GET", "/v1/sessions/{sid}"),
        ("GET", "/v1/sessions/{sid}/events"),
        ("POST", "/v1/sessions/{sid}/validate"),
        ("GET", "/v1/users/u1/sessions"),
    ],
)
async def test_publishable_keys_cannot_read(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, method: str, path: str
) -> None:
    """Reads with a publishable key are 403 forbidden, even for a session it started."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    response = await api.request(
        method, path.format(sid=session.id), headers=bearer(keys.publishable)
    )
    assert (403, "forbidden") == (response.status_code, response.json()["error"]["code"])


@pytest.mark.parametrize("origin", ["https://shop.example", "https://evil.example", "null"])
async def test_secret_keys_are_refused_from_web_pages(
    api: httpx.AsyncClient, keys: Keys, origin: str
) -> None:
    """A secret key on a request with an Origin header is 403, whatever the origin, allowed or not."""
    await allow(api, keys, allowed_origins=[SHOP])
    response = await api.get("/v1/app", headers=bearer(keys.secret) | {"Origin": origin})
    assert 403 == response.status_code
    details = response.json()["error"]["details"]
    assert (origin, "allow_secret_keys_from_browsers") == (details["origin"], details["field"])


async def test_secret_keys_work_from_servers(api: httpx.AsyncClient, keys: Keys) -> None:
    """Without an Origin header (a server, a script) a secret key works as always."""
    assert 200 == (await api.get("/v1/app", headers=bearer(keys.secret))).status_code


async def test_an_app_may_let_its_secret_keys_into_browsers(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """allow_secret_keys_from_browsers=true accepts a secret key from a web page."""
    await allow(api, keys, allow_secret_keys_from_browsers=True)
    response = await api.get("/v1/app", headers=bearer(keys.secret) | {"Origin": SHOP})
    assert 200 == response.status_code


async def test_a_browser_may_read_the_retry_headers_of_a_429(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """CORS exposes Retry-After and the RateLimit fields to the page's script."""
    await allow(api, keys, rate_limits={"per_key": "1/minute"})
    headers = bearer(keys.publishable) | {"Origin": SHOP}
    await api.post("/v1/sessions", json={}, headers=headers)
    refused = await api.post("/v1/sessions", json={}, headers=headers)
    exposed = {h.strip() for h in refused.headers["access-control-expose-headers"].split(",")}
    assert 429 == refused.status_code
    assert {"retry-after", "ratelimit", "ratelimit-policy"} <= exposed
