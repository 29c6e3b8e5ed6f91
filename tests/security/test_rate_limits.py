"""Rate limits per key, client IP and session; 429 with its headers; suspects of id guessing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sessionhub import Engine, FakeClock, Settings
from sessionhub.api import create_app
from sessionhub.api.ratelimit import SUSPECT_ACTION
from tests.conftest import Keys, bearer


async def set_limits(engine: Engine, app_id: str, **limits: Any) -> None:
    """Give the app these rate limits (the rest at their defaults)."""
    await engine.apps.update(app_id, settings={"rate_limits": limits})


def client_from(engine: Engine, ip: str) -> httpx.AsyncClient:
    """An API client whose requests come from ``ip``."""
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def two_ips(engine: Engine) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two API clients on one engine, from two different client addresses."""
    async with client_from(engine, "203.0.113.7") as a, client_from(engine, "198.51.100.9") as b:
        yield a, b


async def new_session(engine: Engine, app_id: str) -> str:
    from sessionhub.models import SessionCreate

    session, _ = await engine.sessions.create(app_id, SessionCreate(device_id="d1"))
    return session.id


async def test_a_key_past_its_limit_gets_429_with_retry_after_and_ratelimit_fields(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The request after the key's quota is a 429 rate_limited with Retry-After, RateLimit and RateLimit-Policy."""
    await set_limits(engine, keys.app_id, per_key="3/minute")
    statuses = [
        (await api.get("/v1/app", headers=bearer(keys.secret))).status_code for _ in range(3)
    ]
    refused = await api.get("/v1/app", headers=bearer(keys.secret))
    assert [200, 200, 200] == statuses
    assert 429 == refused.status_code
    error = refused.json()["error"]
    assert ("rate_limited", "key", 3, 60) == (
        error["code"],
        error["details"]["policy"],
        error["details"]["limit"],
        error["details"]["window_s"],
    )
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 120
    assert '"key";q=3;w=60' == refused.headers["ratelimit-policy"]
    assert re.fullmatch(r'"key";r=0;t=\d+', refused.headers["ratelimit"])
    assert retry == error["details"]["retry_after_s"]


async def test_each_key_has_its_own_quota(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A key that used up its quota does not use up another key's."""
    await set_limits(engine, keys.app_id, per_key="2/minute")
    other = (await engine.keys.issue("secret", keys.app_id)).token
    for _ in range(3):
        await api.get("/v1/app", headers=bearer(keys.secret))
    assert 429 == (await api.get("/v1/app", headers=bearer(keys.secret))).status_code
    assert 200 == (await api.get("/v1/app", headers=bearer(other))).status_code


async def test_publishable_requests_are_limited_per_client_ip(
    engine: Engine, keys: Keys, two_ips: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    """One visitor's address past per_ip is refused with policy ip; another address with the same key is not."""
    await set_limits(engine, keys.app_id, per_ip="2/minute")
    a, b = two_ips
    pk = bearer(keys.publishable)
    first = [(await a.post("/v1/sessions", json={}, headers=pk)).status_code for _ in range(2)]
    refused = await a.post("/v1/sessions", json={}, headers=pk)
    other = await b.post("/v1/sessions", json={}, headers=pk)
    assert ([201, 201], 429, "ip", 201) == (
        first,
        refused.status_code,
        refused.json()["error"]["details"]["policy"],
        other.status_code,
    )


async def test_the_client_ip_of_a_trusted_proxy_is_its_forwarded_client(
    database_url: str, tmp_path: Any
) -> None:
    """Behind a trusted proxy, visitors are told apart by X-Forwarded-For, not the proxy's address."""
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        run_worker=False,
        app_cache_s=0,
        trusted_proxies="10.0.0.0/8",
    )
    async with Engine(settings, clock=FakeClock()) as engine:
        app = await engine.apps.create("proxied")
        pk = bearer((await engine.keys.issue("publishable", app.id)).token)
        await set_limits(engine, app.id, per_ip="1/minute")
        async with client_from(engine, "10.1.1.1") as proxy:
            one = await proxy.post(
                "/v1/sessions", json={}, headers={**pk, "X-Forwarded-For": "1.2.3.4"}
            )
            two = await proxy.post(
                "/v1/sessions", json={}, headers={**pk, "X-Forwarded-For": "5.6.7.8"}
            )
            again = await proxy.post(
                "/v1/sessions", json={}, headers={**pk, "X-Forwarded-For": "1.2.3.4"}
            )
    assert (201, 201, 429) == (one.status_code, two.status_code, again.status_code)


async def test_publishable_requests_are_limited_per_session(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Heartbeats of one session past per_session are refused with policy session; other sessions go on."""
    await set_limits(engine, keys.app_id, per_session="2/minute")
    busy, quiet = await new_session(engine, keys.app_id), await new_session(engine, keys.app_id)
    pk = bearer(keys.publishable)
    for _ in range(2):
        assert 200 == (await api.post(f"/v1/sessions/{busy}/heartbeat", headers=pk)).status_code
    refused = await api.post(f"/v1/sessions/{busy}/heartbeat", headers=pk)
    other = await api.post(f"/v1/sessions/{quiet}/heartbeat", headers=pk)
    assert (429, "session", 200) == (
        refused.status_code,
        refused.json()["error"]["details"]["policy"],
        other.status_code,
    )


async def test_secret_keys_are_held_per_key_only(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A backend's secret key is not held to the per-IP and per-session limits of browser traffic."""
    await set_limits(engine, keys.app_id, per_ip="1/minute", per_session="1/minute")
    session_id = await new_session(engine, keys.app_id)
    sk = bearer(keys.secret)
    statuses = {
        (await api.post(f"/v1/sessions/{session_id}/validate", headers=sk)).status_code
        for _ in range(5)
    }
    assert {200} == statuses


async def test_a_null_limit_is_no_limit(api: httpx.AsyncClient, engine: Engine, keys: Keys) -> None:
    """Setting a limit to null turns it off."""
    await set_limits(engine, keys.app_id, per_key=None, per_ip=None)
    statuses = {
        (await api.post("/v1/sessions", json={}, headers=bearer(keys.publishable))).status_code
        for _ in range(30)
    }
    assert {201} == statuses


async def test_the_rate_limits_setting_turns_every_limit_off(
    settings: Settings, clock: FakeClock
) -> None:
    """With rate_limits=false (SESSIONHUB_RATE_LIMITS) no request is ever refused 429."""
    async with Engine(settings.replace(rate_limits=False), clock=clock) as engine:
        app = await engine.apps.create("unlimited")
        sk = bearer((await engine.keys.issue("secret", app.id)).token)
        await set_limits(engine, app.id, per_key="1/minute")
        async with client_from(engine, "192.0.2.1") as api:
            statuses = {(await api.get("/v1/app", headers=sk)).status_code for _ in range(5)}
    assert {200} == statuses


@pytest.mark.parametrize(
    "value", ["lots", "0/minute", "5/fortnight", "1/100 year", 5, "9999999999/second"]
)
async def test_a_limit_that_is_no_rate_is_a_422_naming_it(
    api: httpx.AsyncClient, keys: Keys, value: Any
) -> None:
    """A rate limit setting that is not a sane 'N/period' is refused 422 at settings.rate_limits.<name>."""
    response = await api.patch(
        f"/v1/apps/{keys.app_id}",
        json={"settings": {"rate_limits": {"per_key": value}}},
        headers=bearer(keys.admin),
    )
    assert 422 == response.status_code
    locs = [e["loc"] for e in response.json()["error"]["details"]["errors"]]
    assert ["settings", "rate_limits", "per_key"] in locs


# -- suspects ------------------------------------------------------------------------------


async def test_many_unknown_session_lookups_make_a_key_a_suspect_once_audited(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Past unknown_sessions_per_key 404s a key falls under the suspect limit, and one audit entry says so."""
    await set_limits(engine, keys.app_id, unknown_sessions_per_key="5/minute", suspect="3/minute")
    sk = bearer(keys.secret)
    key_id = (await engine.keys.authenticate(keys.secret)).key_id
    misses = [
        (await api.post(f"/v1/sessions/ses_guess{i}/validate", headers=sk)).status_code
        for i in range(6)
    ]
    after = [(await api.get("/v1/app", headers=sk)).status_code for _ in range(4)]
    entries = (await engine.audit.list(action=SUSPECT_ACTION)).items
    assert [404] * 6 == misses
    assert [200, 200, 200, 429] == after
    assert [(f"key:{key_id}", keys.app_id, f"key:{key_id}")] == [
        (e.target, e.app_id, e.actor) for e in entries
    ]
    assert "unknown_session_lookups" == entries[0].details["reason"]


async def test_the_suspect_429_names_the_suspect_policy(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A suspect's refusals say policy suspect, so the client knows why it is held so tight."""
    await set_limits(engine, keys.app_id, unknown_sessions_per_key="1/minute", suspect="1/minute")
    sk = bearer(keys.secret)
    for i in range(3):
        await api.get(f"/v1/sessions/nope-{i}", headers=sk)
    refused = await api.get("/v1/app", headers=sk)
    assert (429, "suspect") == (refused.status_code, refused.json()["error"]["details"]["policy"])
    assert refused.headers["ratelimit-policy"].startswith('"suspect";q=1;w=60')


async def test_lookups_that_find_their_session_never_make_a_suspect(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Only 404s for session ids count: a key busy with real sessions stays unsuspected."""
    await set_limits(engine, keys.app_id, unknown_sessions_per_key="2/minute", suspect="1/minute")
    session_id = await new_session(engine, keys.app_id)
    sk = bearer(keys.secret)
    statuses = {
        (await api.get(f"/v1/sessions/{session_id}", headers=sk)).status_code for _ in range(10)
    }
    assert {200} == statuses
    assert [] == (await engine.audit.list(action=SUSPECT_ACTION)).items


async def test_an_id_guessing_visitor_is_held_by_ip_without_its_address_in_the_audit_log(
    engine: Engine, keys: Keys, two_ips: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    """Unknown-session heartbeats from one address make that address a suspect, not the shared publishable key."""
    await set_limits(engine, keys.app_id, unknown_sessions_per_ip="3/minute", suspect="1/minute")
    guesser, visitor = two_ips
    pk = bearer(keys.publishable)
    for i in range(4):
        await guesser.post(f"/v1/sessions/ses_guess{i}/heartbeat", headers=pk)
    held = [(await guesser.post("/v1/sessions", json={}, headers=pk)).status_code for _ in range(2)]
    free = [(await visitor.post("/v1/sessions", json={}, headers=pk)).status_code for _ in range(3)]
    entries = (await engine.audit.list(action=SUSPECT_ACTION)).items
    assert [201, 429] == held
    assert [201, 201, 201] == free
    assert 1 == len(entries)
    assert entries[0].target is not None
    assert entries[0].target.startswith("ip:subj_")
    assert "203.0.113.7" not in entries[0].model_dump_json()


# -- Redis: replicas share their counts ------------------------------------------------------


async def test_two_api_instances_sharing_redis_share_a_limit(
    settings: Settings, clock: FakeClock, redis_url: str
) -> None:
    """Requests to two API processes on one Redis count against one quota."""
    shared = settings.replace(redis_url=redis_url)
    async with Engine(shared, clock=clock) as first, Engine(shared, clock=clock) as second:
        app = await first.apps.create("replicated")
        sk = bearer((await first.keys.issue("secret", app.id)).token)
        await set_limits(first, app.id, per_key="3/minute")
        async with client_from(first, "192.0.2.1") as a, client_from(second, "192.0.2.1") as b:
            statuses = [
                (await a.get("/v1/app", headers=sk)).status_code,
                (await b.get("/v1/app", headers=sk)).status_code,
                (await a.get("/v1/app", headers=sk)).status_code,
                (await b.get("/v1/app", headers=sk)).status_code,
            ]
    assert [200, 200, 200, 429] == statuses


async def test_a_suspect_marked_through_redis_is_audited_once_across_replicas(
    settings: Settings, clock: FakeClock, redis_url: str
) -> None:
    """Both replicas see the shared miss count and hold the suspect; only the first writes the audit entry."""
    shared = settings.replace(redis_url=redis_url)
    async with Engine(shared, clock=clock) as first, Engine(shared, clock=clock) as second:
        app = await first.apps.create("replicated")
        sk = bearer((await first.keys.issue("secret", app.id)).token)
        await set_limits(first, app.id, unknown_sessions_per_key="2/minute", suspect="1/minute")
        async with client_from(first, "192.0.2.1") as a, client_from(second, "192.0.2.1") as b:
            for client in (a, b, a, b):
                await client.get("/v1/sessions/nope", headers=sk)
            a_after = [(await a.get("/v1/app", headers=sk)).status_code for _ in range(2)]
            b_after = (await b.get("/v1/app", headers=sk)).status_code
        entries = (await first.audit.list(action=SUSPECT_ACTION)).items
    assert [200, 429] == a_after
    assert 429 == b_after
    assert 1 == len(entries)
