"""The personalization API: profiles, segments, recommendations, experiments, decide, federation."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Connection, select

from sessionhub import Engine
from sessionhub.storage.schema_audit import audit_log
from tests.conftest import Keys, bearer


async def _events(api: httpx.AsyncClient, token: str, events: list[dict[str, Any]]) -> str:
    response = await api.post("/v1/events", json={"events": events}, headers=bearer(token))
    assert 200 == response.status_code, response.text
    return str(response.json()["sessions"][0])


def _audit(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings()]


async def test_profile_vector_and_traits_over_http(api: httpx.AsyncClient, keys: Keys) -> None:
    """Events sent by the tracker show up in the profile; traits patch; the vector reads."""
    event = {
        "type": "page_view",
        "user_id": "u1",
        "path": "/blog/x",
        "properties": {"category": "tea"},
    }
    await _events(api, keys.publishable, [event])
    sk = bearer(keys.secret)
    patched = await api.patch(
        "/v1/profiles/u1/traits", json={"traits": {"plan": "pro"}}, headers=sk
    )
    assert (200, {"plan": "pro"}) == (patched.status_code, patched.json()["traits"])
    profile = (await api.get("/v1/profiles/u1", headers=sk)).json()
    assert profile["first_seen"].endswith("Z")
    assert 1 == profile["events"]
    vector = (
        await api.get("/v1/profiles/u1/vector", params={"half_life_days": 3}, headers=sk)
    ).json()
    assert {"category:tea", "section:blog"} == {a["dimension"] for a in vector["affinities"]}
    listed = (await api.get("/v1/profiles", headers=sk)).json()
    assert ["u1"] == [p["id"] for p in listed["items"]]
    assert 404 == (await api.get("/v1/profiles/nobody", headers=sk)).status_code


async def test_bad_settings_and_rules_are_422_naming_the_field(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Out-of-range settings and malformed rules answer 422 with the field."""
    sk = bearer(keys.secret)
    bad = await api.put("/v1/personalization/settings", json={"half_life_days": 0}, headers=sk)
    assert 422 == bad.status_code
    rules = {"key": "s", "rules": {"and": [{"field": "x", "op": "eq", "value": 1}]}}
    refused = await api.post("/v1/segments", json=rules, headers=sk)
    assert (422, "rules.and.0.field") == (
        refused.status_code,
        refused.json()["error"]["details"]["field"],
    )


async def test_segments_over_http(api: httpx.AsyncClient, keys: Keys) -> None:
    """Create a segment, check membership, list and count members."""
    sk = bearer(keys.secret)
    for user in ("u1", "u2"):
        await _events(api, keys.secret, [{"type": "conversion", "user_id": user}])
    body = {"key": "buyers", "rules": {"event": "conversion", "min": 1, "within_days": 7}}
    assert 200 == (await api.post("/v1/segments", json=body, headers=sk)).status_code
    assert (await api.get("/v1/segments/buyers/members/u1", headers=sk)).json()["member"]
    members = (await api.get("/v1/segments/buyers/members", headers=sk)).json()
    assert ["u1", "u2"] == members["items"]
    assert 2 == (await api.get("/v1/segments/buyers/count", headers=sk)).json()["members"]
    assert 204 == (await api.delete("/v1/segments/buyers", headers=sk)).status_code


async def test_recommendations_over_http(api: httpx.AsyncClient, keys: Keys) -> None:
    """The recommendations endpoint answers items with reasons."""
    sk = bearer(keys.secret)
    for user in ("u1", "u2"):
        await _events(
            api,
            keys.secret,
            [
                {"type": "page_view", "user_id": user, "properties": {"product_id": p}}
                for p in ("a", "b")
            ],
        )
    assert 2 == (await api.post("/v1/recommendations/rebuild", headers=sk)).json()["items"]
    found = (await api.get("/v1/recommendations", params={"item_id": "a"}, headers=sk)).json()
    assert ("b", ["similar to a"]) == (found["items"][0]["item"], found["items"][0]["reasons"])


async def test_decide_with_a_publishable_key_and_results(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """The tracker's key decides; the secret key defines and reads results."""
    sk = bearer(keys.secret)
    spec = {
        "key": "cta",
        "variants": [
            {"key": "a", "features": {"cta": "Buy"}},
            {"key": "b", "features": {"cta": "Get"}},
        ],
        "goal": {"event": "conversion"},
        "status": "running",
    }
    assert 201 == (await api.post("/v1/experiments", json=spec, headers=sk)).status_code
    decided = await api.get(
        "/v1/decide", params={"device_id": "d1", "user_id": "u1"}, headers=bearer(keys.publishable)
    )
    assert 200 == decided.status_code
    variant = decided.json()["variants"]["cta"]
    assert {"cta": "Buy" if variant == "a" else "Get"} == decided.json()["features"]
    bad = await api.get("/v1/decide", params={"user_id": "u1", "attributes": "[1]"}, headers=sk)
    assert (422, "attributes") == (bad.status_code, bad.json()["error"]["details"]["field"])
    results = (await api.get("/v1/experiments/cta/results", headers=sk)).json()
    assert 1 == sum(v["units"] for v in results["variants"])
    stopped = await api.patch("/v1/experiments/cta", json={"status": "stopped"}, headers=sk)
    assert "stopped" == stopped.json()["status"]
    after = await api.get("/v1/decide", params={"user_id": "u1"}, headers=sk)
    assert {} == after.json()["variants"]


async def test_federation_shares_only_what_the_grant_allows_and_audits_it(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """App B reads A's session only after A's grant, sees events only with that scope, writes
    events only with write_events, and each access is in A's audit log."""
    other = await engine.apps.create("other")
    b_key = bearer((await engine.keys.issue("secret", other.id)).token)
    a_key = bearer(keys.secret)
    session_id = await _events(
        api, keys.secret, [{"type": "page_view", "user_id": "u1", "path": "/a"}]
    )
    path = f"/v1/federation/sessions/{session_id}"
    assert 404 == (await api.get(path, headers=b_key)).status_code
    grant = await api.put(
        f"/v1/federation/grants/{other.id}", json={"scopes": ["sessions"]}, headers=a_key
    )
    assert (200, ["sessions"]) == (grant.status_code, grant.json()["scopes"])
    shared = (await api.get(path, headers=b_key)).json()
    assert (keys.app_id, session_id, None, None) == (
        shared["app_id"],
        shared["session"]["id"],
        shared["events"],
        shared["profile"],
    )
    write = {"app_id": keys.app_id, "session_id": session_id, "events": [{"type": "action"}]}
    assert 403 == (await api.post("/v1/federation/events", json=write, headers=b_key)).status_code
    await api.put(
        f"/v1/federation/grants/{other.id}",
        json={"scopes": ["sessions", "events", "profile", "write_events"]},
        headers=a_key,
    )
    written = await api.post("/v1/federation/events", json=write, headers=b_key)
    assert 1 == written.json()["accepted"]
    shared = (await api.get(path, headers=b_key)).json()
    assert [None, other.id] == [e["properties"].get("source_app") for e in shared["events"]]
    assert "u1" == shared["profile"]["id"]
    assert "u1" == (await api.get("/v1/federation/profiles/u1", headers=b_key)).json()["id"]
    grants = (await api.get("/v1/federation/grants", headers=b_key)).json()
    assert ([], [keys.app_id]) == (grants["given"], [g["owner_app_id"] for g in grants["received"]])
    assert 204 == (await api.delete(f"/v1/federation/grants/{other.id}", headers=a_key)).status_code
    assert 404 == (await api.get(path, headers=b_key)).status_code
    actions = [e["action"] for e in await engine.db.read(_audit) if e["app_id"] == keys.app_id]
    assert [
        "federation.grant",
        "federation.session",
        "federation.grant",
        "federation.events",
        "federation.session",
        "federation.profile",
        "federation.revoke",
    ] == [a for a in actions if a.startswith("federation.")]


async def test_an_app_cannot_grant_itself_or_an_unknown_app(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Granting oneself is a 422; an unknown app is a 404."""
    sk = bearer(keys.secret)
    body = {"scopes": ["sessions"]}
    assert (
        422
        == (
            await api.put(f"/v1/federation/grants/{keys.app_id}", json=body, headers=sk)
        ).status_code
    )
    assert (
        404 == (await api.put("/v1/federation/grants/app_nope", json=body, headers=sk)).status_code
    )
