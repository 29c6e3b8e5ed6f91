"""Key scopes and tenant isolation on every endpoint the API has.

The endpoints are read from the app's own OpenAPI document, and each must be declared in
ROUTES with the key kinds that may call it: an endpoint added without saying who may call
it fails here, and every declared scope is checked against every kind of key.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, select

from sessionhub import Engine, FakeClock
from sessionhub.api import create_app
from sessionhub.models import SessionCreate
from sessionhub.storage.schema import api_keys
from tests.conftest import Keys, bearer

PUBLIC: frozenset[str] = frozenset()
PK = frozenset({"publishable"})
PK_SK = frozenset({"publishable", "secret"})
SK = frozenset({"secret"})
ADMIN = frozenset({"admin"})
KINDS = ("publishable", "secret", "admin")


@dataclass(frozen=True)
class Ids:
    """The identifiers a request path or body can name, all of one app."""

    app_id: str
    session_id: str
    key_id: str
    user_id: str = "u1"
    device_id: str = "d1"
    share_id: str = "shr_unknown"
    token: str = "unknown-share-token"
    key: str = "theme"
    sku: str = "sku-1"
    kind: str = "sessions"
    goal_id: str = "gol_unknown"
    milestone_id: str = "mst_unknown"
    blocker_id: str = "blk_unknown"
    comment_id: str = "cmt_unknown"
    attachment_id: str = "att_unknown"
    template_id: str = "tpl_unknown"


Body = Callable[[Ids], dict[str, Any]] | None


@dataclass(frozen=True)
class Route:
    """Who may call an endpoint, and a body that makes a good request to it."""

    scope: frozenset[str]
    body: Body = None
    # False where success needs a body or state this file does not build: then only the
    # scope is checked (allowed keys are not refused), not that the call succeeds.
    checks_success: bool = True
    # True where a session id in the path that does not exist yet is created (in the
    # caller's own app), so another app's id is not a 404 there.
    creates_session: bool = False
    params: dict[str, Any] | None = None
    # Extra request headers (e.g. the acting user of work-session calls).
    headers: dict[str, str] | None = None


def _events(ids: Ids) -> dict[str, Any]:
    return {"events": [{"session_id": ids.session_id, "type": "page_view", "path": "/a"}]}


def _other(
    scope: frozenset[str],
    body: dict[str, Any] | None = None,
    *,
    creates_session: bool = False,
    params: dict[str, Any] | None = None,
) -> Route:
    """An endpoint of a later capability: its scope is checked here, its behaviour in its own tests."""
    return Route(
        scope,
        None if body is None else (lambda ids: body),
        checks_success=False,
        creates_session=creates_session,
        params=params,
    )


MESSAGE = {"role": "user", "content": "hello"}
CART_ITEM = {"sku": "sku-1", "name": "Tea", "price": "3.50"}
CACHE_ENTRY = {"prompt": "hi", "response": "hello"}


ROUTES: dict[tuple[str, str], Route] = {
    # operations
    ("GET", "/healthz"): Route(PUBLIC),
    ("GET", "/readyz"): Route(PUBLIC),
    ("GET", "/metrics"): Route(PUBLIC),
    # apps and keys
    ("POST", "/v1/apps"): Route(ADMIN, lambda ids: {"name": "another"}),
    ("GET", "/v1/apps"): Route(ADMIN),
    ("GET", "/v1/apps/{app_id}"): Route(ADMIN),
    ("PATCH", "/v1/apps/{app_id}"): Route(ADMIN, lambda ids: {"name": "renamed"}),
    ("GET", "/v1/app"): Route(SK),
    ("POST", "/v1/keys"): Route(ADMIN, lambda ids: {"kind": "secret", "app_id": ids.app_id}),
    ("GET", "/v1/keys"): Route(ADMIN),
    ("POST", "/v1/keys/{key_id}/rotate"): Route(ADMIN),
    ("POST", "/v1/keys/{key_id}/revoke"): Route(ADMIN),
    # audit log and bulk session operations (issue 7)
    ("GET", "/v1/audit"): Route(SK | ADMIN),
    ("GET", "/v1/audit/verify"): Route(ADMIN),
    ("POST", "/v1/sessions/bulk/delete"): Route(
        SK, lambda ids: {"filter": {"user_id": ids.user_id}, "dry_run": True}
    ),
    ("POST", "/v1/sessions/bulk/update"): Route(
        SK, lambda ids: {"filter": {"user_id": ids.user_id}, "set": {"end": True}, "dry_run": True}
    ),
    # sessions
    ("POST", "/v1/sessions"): Route(PK_SK, lambda ids: {"device_id": ids.device_id}),
    ("GET", "/v1/sessions"): Route(SK),
    ("GET", "/v1/sessions/active"): Route(SK),
    ("GET", "/v1/sessions/{session_id}"): Route(SK),
    ("PATCH", "/v1/sessions/{session_id}"): Route(SK, lambda ids: {"metadata": {"x": 1}}),
    ("DELETE", "/v1/sessions/{session_id}"): Route(SK),
    ("POST", "/v1/sessions/{session_id}/heartbeat"): Route(PK_SK),
    ("POST", "/v1/sessions/{session_id}/validate"): Route(SK),
    ("POST", "/v1/sessions/{session_id}/refresh"): Route(SK),
    ("POST", "/v1/sessions/{session_id}/end"): Route(PK_SK, lambda ids: {"reason": "logout"}),
    ("POST", "/v1/sessions/{session_id}/revoke"): Route(SK),
    ("POST", "/v1/sessions/{session_id}/rotate"): Route(SK),
    ("GET", "/v1/users/{user_id}/sessions"): Route(SK),
    ("GET", "/v1/users/{user_id}/sessions/current"): Route(SK),
    ("POST", "/v1/users/{user_id}/revoke"): Route(SK),
    ("GET", "/v1/devices/{device_id}/sessions"): Route(SK),
    ("POST", "/v1/identify"): Route(
        SK, lambda ids: {"device_id": ids.device_id, "user_id": ids.user_id}
    ),
    # events (issue 3)
    ("POST", "/v1/events"): Route(PK_SK, _events),
    ("POST", "/v1/sessions/{session_id}/events"): Route(
        PK_SK, lambda ids: {"events": [{"type": "action"}]}
    ),
    ("GET", "/v1/sessions/{session_id}/events"): Route(SK),
    ("GET", "/v1/users/{user_id}/events"): Route(SK),
    ("GET", "/v1/export/{kind}"): _other(SK),
    ("POST", "/v1/import"): _other(SK),
    # conversation memory and state (issue 5)
    ("POST", "/v1/sessions/{session_id}/messages"): _other(SK, MESSAGE, creates_session=True),
    ("POST", "/v1/sessions/{session_id}/messages/batch"): _other(
        SK, {"messages": [MESSAGE]}, creates_session=True
    ),
    ("GET", "/v1/sessions/{session_id}/messages"): _other(SK),
    ("DELETE", "/v1/sessions/{session_id}/messages"): _other(SK),
    ("GET", "/v1/sessions/{session_id}/messages/context"): _other(SK, params={"max_tokens": 100}),
    ("GET", "/v1/sessions/{session_id}/messages/count"): _other(SK),
    ("DELETE", "/v1/sessions/{session_id}/messages/last"): _other(SK),
    ("GET", "/v1/sessions/{session_id}/info"): _other(SK),
    ("GET", "/v1/users/{user_id}/conversations"): _other(SK),
    ("POST", "/v1/sessions/{session_id}/shares"): _other(SK),
    ("GET", "/v1/sessions/{session_id}/shares"): _other(SK),
    ("DELETE", "/v1/sessions/{session_id}/shares/{share_id}"): _other(SK),
    ("GET", "/v1/shared/{token}"): _other(PUBLIC),
    ("GET", "/v1/sessions/{session_id}/preferences"): _other(SK),
    ("PATCH", "/v1/sessions/{session_id}/preferences"): _other(SK, {"theme": "dark"}),
    ("PUT", "/v1/sessions/{session_id}/preferences"): _other(SK, {"theme": "dark"}),
    ("DELETE", "/v1/sessions/{session_id}/preferences/{key}"): _other(SK),
    ("GET", "/v1/sessions/{session_id}/cart"): _other(SK),
    ("DELETE", "/v1/sessions/{session_id}/cart"): _other(SK),
    ("POST", "/v1/sessions/{session_id}/cart/items"): _other(SK, CART_ITEM),
    ("PATCH", "/v1/sessions/{session_id}/cart/items/{sku}"): _other(SK, {"quantity": 2}),
    ("DELETE", "/v1/sessions/{session_id}/cart/items/{sku}"): _other(SK),
    ("GET", "/v1/sessions/{session_id}/state"): _other(SK),
    ("GET", "/v1/sessions/{session_id}/state/{key}"): _other(SK),
    ("PUT", "/v1/sessions/{session_id}/state/{key}"): _other(SK, {"value": 1}),
    ("DELETE", "/v1/sessions/{session_id}/state/{key}"): _other(SK),
    ("GET", "/v1/users/{user_id}/state"): _other(SK),
    ("GET", "/v1/users/{user_id}/state/{key}"): _other(SK),
    ("PUT", "/v1/users/{user_id}/state/{key}"): _other(SK, {"value": 1}),
    ("DELETE", "/v1/users/{user_id}/state/{key}"): _other(SK),
    ("GET", "/v1/state"): _other(SK),
    ("GET", "/v1/state/{key}"): _other(SK),
    ("PUT", "/v1/state/{key}"): _other(SK, {"value": 1}),
    ("DELETE", "/v1/state/{key}"): _other(SK),
    ("PUT", "/v1/sessions/{session_id}/cache"): _other(SK, CACHE_ENTRY),
    ("DELETE", "/v1/sessions/{session_id}/cache"): _other(SK),
    ("POST", "/v1/sessions/{session_id}/cache/lookup"): _other(SK, {"prompt": "hi"}),
    ("GET", "/v1/sessions/{session_id}/cache/stats"): _other(SK),
    ("PUT", "/v1/cache"): _other(SK, CACHE_ENTRY),
    ("DELETE", "/v1/cache"): _other(SK),
    ("POST", "/v1/cache/lookup"): _other(SK, {"prompt": "hi"}),
    ("GET", "/v1/cache/stats"): _other(SK),
    # browser tracker (issue 8): the script is public; a beacon carries its key in the body
    ("GET", "/sdk/sessionhub.js"): Route(PUBLIC),
    ("GET", "/sdk/sessionhub.mjs"): Route(PUBLIC),
    ("POST", "/v1/beacon"): Route(PK, _events),
    ("GET", "/v1/tracker/config"): Route(PK),
    ("POST", "/v1/sessions/{session_id}/identify"): Route(
        PK_SK, lambda ids: {"user_id": ids.user_id}
    ),
    # analytics
    ("POST", "/v1/query"): _other(SK, {"metrics": ["sessions"]}),
    ("POST", "/v1/analytics/funnels"): _other(SK, {"steps": [{"page": "/a"}, {"page": "/b"}]}),
    ("POST", "/v1/analytics/paths"): _other(SK, {"page": "/a"}),
    ("POST", "/v1/analytics/retention"): _other(SK, {}),
    **{
        ("GET", f"/v1/analytics/{name}"): _other(SK)
        for name in (
            "active",
            "bounces",
            "browsers",
            "daily",
            "devices",
            "entry-pages",
            "exit-pages",
            "geography",
            "journeys",
            "patterns",
            "sources",
            "stats",
            "summary",
            "workflows",
        )
    },
    ("GET", "/v1/sessions/{session_id}/engagement"): _other(SK),
    ("GET", "/v1/users/{user_id}/patterns"): _other(SK),
    # personalization: profiles, segments, recommendations, experiments, federation (issue 10)
    ("GET", "/v1/profiles"): Route(SK),
    ("POST", "/v1/profiles/rebuild"): Route(SK, lambda ids: {}),
    ("GET", "/v1/profiles/{user_id}"): _other(SK),
    ("PATCH", "/v1/profiles/{user_id}/traits"): Route(SK, lambda ids: {"traits": {"plan": "pro"}}),
    ("GET", "/v1/profiles/{user_id}/vector"): _other(SK),
    ("GET", "/v1/devices/{device_id}/profile"): _other(SK),
    ("GET", "/v1/personalization/settings"): Route(SK),
    ("PUT", "/v1/personalization/settings"): Route(SK, lambda ids: {"half_life_days": 7}),
    ("POST", "/v1/segments"): Route(SK, lambda ids: {"key": ids.key, "users": [ids.user_id]}),
    ("GET", "/v1/segments"): Route(SK),
    ("GET", "/v1/segments/{key}"): _other(SK),
    ("DELETE", "/v1/segments/{key}"): _other(SK),
    ("GET", "/v1/segments/{key}/members"): _other(SK),
    ("GET", "/v1/segments/{key}/members/{user_id}"): _other(SK),
    ("GET", "/v1/segments/{key}/count"): _other(SK),
    ("GET", "/v1/segments/{key}/history"): _other(SK),
    ("GET", "/v1/recommendations"): Route(SK),
    ("POST", "/v1/recommendations/rebuild"): Route(SK),
    ("GET", "/v1/decide"): Route(PK_SK, params={"user_id": "u1"}),
    ("POST", "/v1/experiments"): Route(
        SK,
        lambda ids: {
            "key": "exp",
            "variants": [{"key": "a"}, {"key": "b"}],
            "goal": {"event": "conversion"},
        },
    ),
    ("GET", "/v1/experiments"): Route(SK),
    ("GET", "/v1/experiments/{key}"): _other(SK),
    ("PATCH", "/v1/experiments/{key}"): _other(SK, {"coverage": 0.5}),
    ("GET", "/v1/experiments/{key}/results"): _other(SK),
    ("GET", "/v1/federation/grants"): Route(SK),
    ("PUT", "/v1/federation/grants/{app_id}"): _other(SK, {"scopes": ["sessions"]}),
    ("DELETE", "/v1/federation/grants/{app_id}"): _other(SK),
    ("GET", "/v1/federation/sessions/{session_id}"): _other(SK),
    ("GET", "/v1/federation/profiles/{user_id}"): _other(SK),
    ("POST", "/v1/federation/events"): _other(
        SK, {"app_id": "app_x", "session_id": "s1", "events": [{"type": "page_view"}]}
    ),
    # consent, data subjects and the privacy report (issue 7)
    ("POST", "/v1/consent"): Route(
        PK_SK, lambda ids: {"device_id": ids.device_id, "purposes": {"analytics": True}}
    ),
    ("GET", "/v1/consent"): Route(SK, params={"device_id": "d1"}),
    ("GET", "/v1/consent/log"): Route(SK, params={"device_id": "d1"}),
    ("GET", "/v1/subjects"): Route(SK, params={"user_id": "u1"}),
    ("GET", "/v1/subjects/export"): Route(SK, params={"user_id": "u1"}),
    # Erases a user nobody has: the other endpoints keep their data.
    ("POST", "/v1/subjects/erase"): Route(SK, lambda ids: {"user_id": "nobody"}),
    ("GET", "/v1/privacy/report"): Route(SK),
    # work sessions (issue 6): a secret key plus the acting user (u1, the Ids' user)
    **{
        (method, f"/v1/work{path}"): Route(
            SK,
            (lambda ids, b=body: b) if body is not None else None,  # type: ignore[misc]
            checks_success=succeeds,
            params=params,
            headers={"X-Sessionhub-User": "u1"},
        )
        for method, path, body, succeeds, params in (
            ("POST", "/sessions", {"name": "w"}, True, None),
            ("GET", "/sessions", None, True, None),
            ("GET", "/sessions/{session_id}", None, False, None),
            ("PATCH", "/sessions/{session_id}", {"name": "x"}, False, None),
            ("DELETE", "/sessions/{session_id}", None, False, None),
            ("POST", "/sessions/{session_id}/purge", None, False, None),
            ("POST", "/sessions/{session_id}/transition", {"to": "active"}, False, None),
            ("GET", "/sessions/{session_id}/members", None, False, None),
            ("POST", "/sessions/{session_id}/members", {"user_id": "u2"}, False, None),
            ("PUT", "/sessions/{session_id}/members/{user_id}", {"role": "viewer"}, False, None),
            ("DELETE", "/sessions/{session_id}/members/{user_id}", None, False, None),
            ("POST", "/sessions/{session_id}/goals", {"title": "g"}, False, None),
            ("GET", "/sessions/{session_id}/goals", None, False, None),
            ("PATCH", "/sessions/{session_id}/goals/{goal_id}", {"title": "g"}, False, None),
            ("DELETE", "/sessions/{session_id}/goals/{goal_id}", None, False, None),
            ("POST", "/sessions/{session_id}/milestones", {"name": "m"}, False, None),
            ("GET", "/sessions/{session_id}/milestones", None, False, None),
            ("PATCH", "/sessions/{session_id}/milestones/{milestone_id}", {}, False, None),
            ("DELETE", "/sessions/{session_id}/milestones/{milestone_id}", None, False, None),
            ("POST", "/sessions/{session_id}/blockers", {"description": "b"}, False, None),
            ("GET", "/sessions/{session_id}/blockers", None, False, None),
            ("POST", "/sessions/{session_id}/blockers/{blocker_id}/resolve", {}, False, None),
            ("GET", "/sessions/{session_id}/progress", None, False, None),
            ("POST", "/sessions/{session_id}/comments", {"body": "c"}, False, None),
            ("GET", "/sessions/{session_id}/comments", None, False, None),
            ("PATCH", "/sessions/{session_id}/comments/{comment_id}", {"body": "c"}, False, None),
            ("DELETE", "/sessions/{session_id}/comments/{comment_id}", None, False, None),
            ("POST", "/sessions/{session_id}/attachments", None, False, {"name": "a.txt"}),
            ("POST", "/sessions/{session_id}/links", {"url": "https://a.example"}, False, None),
            ("GET", "/sessions/{session_id}/attachments", None, False, None),
            (
                "GET",
                "/sessions/{session_id}/attachments/{attachment_id}/content",
                None,
                False,
                None,
            ),
            ("DELETE", "/sessions/{session_id}/attachments/{attachment_id}", None, False, None),
            ("GET", "/sessions/{session_id}/live", None, False, {"max_s": 0}),
            ("GET", "/users/{user_id}/live", None, True, {"max_s": 0}),
            ("GET", "/users/{user_id}/mentions", None, True, None),
            ("POST", "/users/{user_id}/mentions/read", None, True, None),
            ("GET", "/users/{user_id}/suggestions", None, True, None),
            ("GET", "/users/{user_id}/analytics", None, True, None),
            ("GET", "/users/{user_id}/learning", None, True, None),
            ("GET", "/analytics", None, True, None),
            ("GET", "/templates", None, True, None),
            ("POST", "/templates", {"spec": {"name": "t"}}, True, None),
            ("GET", "/templates/{template_id}", None, False, None),
            ("PUT", "/templates/{template_id}", {"name": "t"}, False, None),
            ("GET", "/templates/{template_id}/versions", None, False, None),
        )
    },
}

PARAM = re.compile(r"{([a-z_]+)}")


def api_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app's OpenAPI document lists."""
    operations = set()
    for path, item in app.openapi()["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                operations.add((method.upper(), path))
    return operations


def fill(path: str, ids: Ids) -> str:
    """The path template with each parameter replaced by the id of that name."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not hasattr(ids, name):
            raise AssertionError(f"{path}: teach this test which id {{{name}}} takes")
        return str(getattr(ids, name))

    return PARAM.sub(value, path)


@dataclass
class Tenant:
    """An app with one key of each app kind and a running session of user u1 on device d1."""

    app_id: str
    publishable: str
    secret: str
    secret_key_id: str
    session_id: str


def private(name: str) -> str:
    """A string kept in tenant ``name``'s session that no other app may ever be shown."""
    return f"private-to-tenant-{name}"


async def new_tenant(engine: Engine, name: str) -> Tenant:
    app = await engine.apps.create(name)
    pk = await engine.keys.issue("publishable", app.id)
    sk = await engine.keys.issue("secret", app.id)
    start = SessionCreate(user_id="u1", device_id="d1", metadata={"note": private(name)})
    session, _ = await engine.sessions.create(app.id, start)
    return Tenant(app.id, pk.token, sk.token, sk.id, session.id)


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(engine, run_worker=False, manage_engine=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def fresh_ids(engine: Engine, app_id: str) -> Ids:
    """A new session (user u1, device d1) and a throwaway key, so each call has its own."""
    session, _ = await engine.sessions.create(app_id, SessionCreate(user_id="u1", device_id="d1"))
    key = await engine.keys.issue("secret", app_id, "throwaway")
    return Ids(app_id, session.id, key.id)


def tokens_of(keys: Keys) -> dict[str, str]:
    return {"publishable": keys.publishable, "secret": keys.secret, "admin": keys.admin}


# -- the declaration covers the API ---------------------------------------------------------


async def test_every_endpoint_declares_which_keys_may_call_it(app: FastAPI) -> None:
    """The scope table names exactly the endpoints the OpenAPI document lists."""
    assert set(ROUTES) == api_operations(app)


async def test_every_api_route_is_in_the_openapi_document(app: FastAPI) -> None:
    """No endpoint hides from the schema (and so from these tests and the fuzzer)."""
    from fastapi.routing import APIRoute

    hidden = []
    for route in app.router.routes:
        original = getattr(route, "original_router", None)
        routes = original.routes if original is not None else [route]
        hidden += [r.path for r in routes if isinstance(r, APIRoute) and not r.include_in_schema]
    assert [] == hidden


# -- scopes ------------------------------------------------------------------------------------


async def test_each_key_kind_reaches_exactly_the_endpoints_its_scope_allows(
    client: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Publishable, secret and admin keys are let through where declared and refused 403 everywhere else."""
    tokens = tokens_of(keys)
    wrong: list[str] = []
    for (method, template), route in sorted(ROUTES.items()):
        for kind in KINDS:
            ids = await fresh_ids(engine, keys.app_id)
            body = route.body(ids) if route.body else None
            response = await client.request(
                method,
                fill(template, ids),
                json=body,
                params=route.params,
                headers={**bearer(tokens[kind]), **(route.headers or {})},
            )
            allowed = not route.scope or kind in route.scope
            if allowed and route.checks_success and response.status_code >= 400:
                wrong.append(f"{kind} {method} {template}: {response.status_code} {response.text}")
            elif allowed and response.status_code in {401, 403}:
                wrong.append(f"{kind} {method} {template}: refused {response.status_code}")
            elif not allowed and (403, "forbidden") != (
                response.status_code,
                response.json()["error"]["code"],
            ):
                wrong.append(f"{kind} {method} {template}: {response.status_code}, wanted 403")
    assert [] == wrong


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer sk_not_a_real_key", "Bearer ", "Basic c2VjcmV0OnBhc3M=", "sk_without_scheme"],
)
async def test_missing_or_unknown_keys_get_401_on_every_protected_endpoint(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, authorization: str | None
) -> None:
    """Every endpoint that needs a key answers 401 unauthorized without a valid one; public ones let the caller in."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    ids = await fresh_ids(engine, keys.app_id)  # refused calls change nothing: one set will do
    wrong: list[str] = []
    for (method, template), route in sorted(ROUTES.items()):
        body = route.body(ids) if route.body else None
        response = await client.request(
            method, fill(template, ids), json=body, params=route.params, headers=headers
        )
        if not route.scope:
            if response.status_code in {401, 403} or (
                route.checks_success and 200 != response.status_code
            ):
                wrong.append(f"{method} {template} (public): {response.status_code}")
        elif (401, "unauthorized") != (response.status_code, response.json()["error"]["code"]):
            wrong.append(f"{method} {template}: {response.status_code}")
    assert [] == wrong


async def test_revoked_keys_get_401_on_every_endpoint_they_could_call(
    client: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Once revoked, a key of each kind is refused with 401 at once, everywhere it used to work."""
    issued = {
        "publishable": await engine.keys.issue("publishable", keys.app_id),
        "secret": await engine.keys.issue("secret", keys.app_id),
        "admin": await engine.keys.issue("admin"),
    }
    for key in issued.values():
        await engine.keys.revoke(key.id)
    ids = await fresh_ids(engine, keys.app_id)
    wrong: list[str] = []
    for (method, template), route in sorted(ROUTES.items()):
        for kind in route.scope:
            body = route.body(ids) if route.body else None
            response = await client.request(
                method,
                fill(template, ids),
                json=body,
                params=route.params,
                headers=bearer(issued[kind].token),
            )
            if 401 != response.status_code:
                wrong.append(f"{kind} {method} {template}: {response.status_code}")
    assert [] == wrong


async def test_a_key_revoked_over_the_api_stops_working_at_once(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Revoking a secret key through the admin API makes its very next request a 401."""
    listed = await client.get(
        "/v1/keys", params={"app_id": keys.app_id}, headers=bearer(keys.admin)
    )
    secret = next(k for k in listed.json() if k["kind"] == "secret")
    assert 200 == (await client.get("/v1/app", headers=bearer(keys.secret))).status_code
    revoked = await client.post(f"/v1/keys/{secret['id']}/revoke", headers=bearer(keys.admin))
    assert revoked.json()["revoked_at"] is not None
    assert 401 == (await client.get("/v1/app", headers=bearer(keys.secret))).status_code


async def test_a_rotated_key_works_through_its_overlap_and_then_stops(
    client: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """After rotation with an overlap, the old key works until the overlap ends, then 401; the new one works."""
    listed = await client.get(
        "/v1/keys", params={"app_id": keys.app_id}, headers=bearer(keys.admin)
    )
    secret = next(k for k in listed.json() if k["kind"] == "secret")
    rotated = await client.post(
        f"/v1/keys/{secret['id']}/rotate", json={"overlap_s": 60}, headers=bearer(keys.admin)
    )
    assert 200 == rotated.status_code
    new_token = rotated.json()["token"]
    assert ("secret", keys.app_id) == (rotated.json()["kind"], rotated.json()["app_id"])
    clock.advance(59)
    assert 200 == (await client.get("/v1/app", headers=bearer(keys.secret))).status_code
    clock.advance(1)
    assert 401 == (await client.get("/v1/app", headers=bearer(keys.secret))).status_code
    assert 200 == (await client.get("/v1/app", headers=bearer(new_token))).status_code


async def test_a_rotated_key_without_overlap_stops_at_once(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Rotation with overlap_s 0 revokes the old key in the same call."""
    listed = await client.get(
        "/v1/keys", params={"app_id": keys.app_id}, headers=bearer(keys.admin)
    )
    publishable = next(k for k in listed.json() if k["kind"] == "publishable")
    rotated = await client.post(
        f"/v1/keys/{publishable['id']}/rotate", json={"overlap_s": 0}, headers=bearer(keys.admin)
    )
    old = await client.post("/v1/sessions", json={}, headers=bearer(keys.publishable))
    new = await client.post("/v1/sessions", json={}, headers=bearer(rotated.json()["token"]))
    assert (401, 201) == (old.status_code, new.status_code)


async def test_keys_are_stored_only_as_hashes(engine: Engine, keys: Keys) -> None:
    """No stored column holds a key's token."""
    rows = await engine.db.read(_all_key_rows)
    stored = " ".join(str(value) for row in rows for value in row.values())
    for token in tokens_of(keys).values():
        assert token not in stored


def _all_key_rows(conn: Connection) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(select(api_keys)).mappings()]


# -- tenants -----------------------------------------------------------------------------------


async def test_another_apps_keys_find_nothing_of_this_app(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    """Every endpoint called with app B's keys and app A's ids answers as if A's data did not exist, and changes none of it."""
    a = await new_tenant(engine, "a")
    b = await new_tenant(engine, "b")
    before = (await client.get(f"/v1/sessions/{a.session_id}", headers=bearer(a.secret))).json()
    ids = Ids(a.app_id, a.session_id, a.secret_key_id)
    wrong: list[str] = []
    # Endpoints that create a missing session would give B its own session of that id: last.
    in_order = sorted(ROUTES.items(), key=lambda item: (item[1].creates_session, item[0]))
    for (method, template), route in in_order:
        for kind in route.scope & PK_SK:
            token = b.secret if kind == "secret" else b.publishable
            body = route.body(ids) if route.body else None
            path = fill(template, ids)
            response = await client.request(
                method,
                path,
                json=body,
                params=route.params,
                headers={**bearer(token), **(route.headers or {})},
            )
            expect_404 = "{session_id}" in template and not route.creates_session
            if expect_404 and 404 != response.status_code:
                wrong.append(f"{kind} {method} {template}: {response.status_code}, wanted 404")
            if private("a") in response.text:
                wrong.append(f"{kind} {method} {template}: shows app A's data")
            if response.is_success and a.session_id in response.text and not route.creates_session:
                wrong.append(f"{kind} {method} {template}: shows app A's session id")
    assert [] == wrong
    after = await client.get(f"/v1/sessions/{a.session_id}", headers=bearer(a.secret))
    assert before == after.json()
    events = await client.get(f"/v1/sessions/{a.session_id}/events", headers=bearer(a.secret))
    assert [] == events.json()["items"]
    listed = (await client.get("/v1/sessions", headers=bearer(a.secret))).json()
    assert [a.session_id] == [s["id"] for s in listed["items"]]


async def test_the_same_chosen_id_in_two_apps_is_two_sessions(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    """A caller-chosen id is scoped to its app: app B creating it gets its own new session."""
    a = await new_tenant(engine, "a")
    b = await new_tenant(engine, "b")
    body = {"id": "chat-42", "user_id": "alice"}
    first = await client.post("/v1/sessions", json=body, headers=bearer(a.secret))
    second = await client.post("/v1/sessions", json=body, headers=bearer(b.secret))
    assert (201, 201) == (first.status_code, second.status_code)
    await client.post("/v1/sessions/chat-42/end", headers=bearer(b.secret))
    still = await client.get("/v1/sessions/chat-42", headers=bearer(a.secret))
    assert "active" == still.json()["status"]


async def test_identify_in_one_app_does_not_claim_another_apps_sessions(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    """Linking device d1 in app B leaves app A's anonymous sessions of d1 anonymous."""
    a = await new_tenant(engine, "a")
    b = await new_tenant(engine, "b")
    anonymous = await client.post(
        "/v1/sessions", json={"device_id": "shared"}, headers=bearer(a.publishable)
    )
    identified = await client.post(
        "/v1/identify", json={"device_id": "shared", "user_id": "bob"}, headers=bearer(b.secret)
    )
    assert 0 == identified.json()["sessions_linked"]
    got = await client.get(f"/v1/sessions/{anonymous.json()['id']}", headers=bearer(a.secret))
    assert got.json()["user_id"] is None


async def test_a_secret_key_reads_only_its_own_app(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    """GET /v1/app answers the app the secret key belongs to."""
    a = await new_tenant(engine, "a")
    b = await new_tenant(engine, "b")
    got_a = (await client.get("/v1/app", headers=bearer(a.secret))).json()
    got_b = (await client.get("/v1/app", headers=bearer(b.secret))).json()
    assert (a.app_id, b.app_id) == (got_a["id"], got_b["id"])


# -- allowed origins ------------------------------------------------------------------------


async def test_publishable_keys_are_held_to_the_allowed_origins(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """With allowed origins set, a publishable key from another origin is refused 403 and nothing is created."""
    patched = await client.patch(
        f"/v1/apps/{keys.app_id}",
        json={"settings": {"allowed_origins": ["https://shop.example"]}},
        headers=bearer(keys.admin),
    )
    assert 200 == patched.status_code
    pk = bearer(keys.publishable)
    good = await client.post(
        "/v1/sessions", json={}, headers={**pk, "Origin": "https://shop.example"}
    )
    bad = await client.post(
        "/v1/sessions", json={}, headers={**pk, "Origin": "https://evil.example"}
    )
    assert (201, 403) == (good.status_code, bad.status_code)
    assert "forbidden" == bad.json()["error"]["code"]
    beat = await client.post(
        f"/v1/sessions/{good.json()['id']}/heartbeat",
        headers={**pk, "Origin": "https://evil.example"},
    )
    assert 403 == beat.status_code
    listed = (await client.get("/v1/sessions", headers=bearer(keys.secret))).json()
    assert [good.json()["id"]] == [s["id"] for s in listed["items"]]


async def test_secret_keys_are_not_held_to_origins(client: httpx.AsyncClient, keys: Keys) -> None:
    """Allowed origins restrict publishable keys only: a secret key let into browsers works from any origin.

    (Without allow_secret_keys_from_browsers a secret key is refused from every origin:
    tests/security/test_origins.py.)
    """
    await client.patch(
        f"/v1/apps/{keys.app_id}",
        json={
            "settings": {
                "allowed_origins": ["https://shop.example"],
                "allow_secret_keys_from_browsers": True,
            }
        },
        headers=bearer(keys.admin),
    )
    response = await client.post(
        "/v1/sessions",
        json={},
        headers={**bearer(keys.secret), "Origin": "https://elsewhere.example"},
    )
    assert 201 == response.status_code


async def test_any_origin_is_fine_when_none_are_configured(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """An app without allowed origins accepts its publishable key from any origin."""
    response = await client.post(
        "/v1/sessions",
        json={},
        headers={**bearer(keys.publishable), "Origin": "https://anywhere.example"},
    )
    assert 201 == response.status_code
