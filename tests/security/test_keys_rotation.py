"""Key rotation with an overlap window, and revocation that takes effect at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sessionhub import Conflict, Engine, FakeClock, Settings, Unauthorized
from sessionhub.api import create_app
from tests.conftest import Keys, bearer


@pytest.fixture
async def cached_api(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Engine, httpx.AsyncClient]]:
    """An engine caching app settings for a minute (as in production) and its API client."""
    engine = await Engine(settings.replace(app_cache_s=60.0), clock=clock).start(migrate=False)
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield engine, client
    finally:
        await engine.close()


async def _works(engine: Engine, token: str) -> bool:
    try:
        await engine.keys.authenticate(token)
    except Unauthorized:
        return False
    return True


async def test_rotation_keeps_the_old_key_a_day_by_default(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Without overlap_s the old key works for 24 hours after rotation, then stops; the new one works throughout."""
    old_id = (await engine.keys.authenticate(keys.secret)).key_id
    new = await engine.keys.rotate(old_id)
    clock.advance(86_400 - 1)
    during = (await _works(engine, keys.secret), await _works(engine, new.token))
    clock.advance(1)
    after = (await _works(engine, keys.secret), await _works(engine, new.token))
    assert ((True, True), (False, True)) == (during, after)


async def test_rotation_over_the_api_defaults_to_a_day_and_zero_means_now(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """POST /rotate without a body keeps the old key a day; with overlap_s 0 it stops at once."""
    admin = bearer(keys.admin)
    secret_id = (await engine.keys.authenticate(keys.secret)).key_id
    publishable_id = (await engine.keys.authenticate(keys.publishable)).key_id
    await api.post(f"/v1/keys/{secret_id}/rotate", headers=admin)
    await api.post(f"/v1/keys/{publishable_id}/rotate", json={"overlap_s": 0}, headers=admin)
    keys_now = {
        k["id"]: k
        for k in (await api.get("/v1/keys", params={"include_revoked": True}, headers=admin)).json()
    }
    assert "2026-01-02T00:00:00Z" == keys_now[secret_id]["expires_at"].replace(".000", "")
    assert (True, False) == (
        await _works(engine, keys.secret),
        await _works(engine, keys.publishable),
    )


async def test_rotating_again_never_lengthens_the_old_keys_life(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A key already in its overlap keeps the earlier end when rotated again with a longer overlap."""
    old_id = (await engine.keys.authenticate(keys.secret)).key_id
    await engine.keys.rotate(old_id, overlap_s=60)
    await engine.keys.rotate(old_id, overlap_s=3600)
    clock.advance(60)
    assert not await _works(engine, keys.secret)


async def test_a_revoked_or_expired_key_cannot_be_rotated(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Rotating a revoked key, or one whose overlap ran out, is a 409: it would bring a dead key's kind back silently."""
    secret_id = (await engine.keys.authenticate(keys.secret)).key_id
    publishable_id = (await engine.keys.authenticate(keys.publishable)).key_id
    await engine.keys.revoke(secret_id)
    await engine.keys.rotate(publishable_id, overlap_s=10)
    clock.advance(10)
    with pytest.raises(Conflict):
        await engine.keys.rotate(secret_id)
    with pytest.raises(Conflict):
        await engine.keys.rotate(publishable_id)


async def test_revoking_a_key_in_its_overlap_stops_it_at_once(engine: Engine, keys: Keys) -> None:
    """An old key still inside its overlap window fails on the very next request once revoked."""
    old_id = (await engine.keys.authenticate(keys.secret)).key_id
    await engine.keys.rotate(old_id)
    await engine.keys.revoke(old_id)
    assert not await _works(engine, keys.secret)


async def test_revocation_is_immediate_even_with_the_app_cache_on(
    cached_api: tuple[Engine, httpx.AsyncClient],
) -> None:
    """With app_cache_s 60 a revoked key's very next request is a 401: keys are never cached."""
    engine, client = cached_api
    app = await engine.apps.create("shop")
    sk = await engine.keys.issue("secret", app.id)
    ak = await engine.keys.issue("admin")
    before = await client.get("/v1/app", headers=bearer(sk.token))
    await client.post(f"/v1/keys/{sk.id}/revoke", headers=bearer(ak.token))
    after = await client.get("/v1/app", headers=bearer(sk.token))
    assert (200, 401) == (before.status_code, after.status_code)
