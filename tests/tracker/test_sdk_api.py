"""The server side of the tracker: the script, its settings, the beacon and identify from a page.

Over ASGI, on SQLite and PostgreSQL (the ``api`` and ``engine`` fixtures).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from importlib.resources import files
from typing import Any

import httpx
import orjson
import pytest

from sessionhub import Engine, FakeClock
from sessionhub.models import SessionCreate, SessionFilter
from tests.conftest import Keys, bearer

SHOP = "https://shop.example"
TRACKER = files("sessionhub").joinpath("tracker")
EVENT_ID = "6f1c1d4e-0c39-4d0b-9d55-8f1f5e2b9a01"


async def _allow(api: httpx.AsyncClient, keys: Keys, **settings: Any) -> None:
    patched = await api.patch(
        f"/v1/apps/{keys.app_id}",
        json={"settings": {"allowed_origins": [SHOP], **settings}},
        headers=bearer(keys.admin),
    )
    assert 200 == patched.status_code, patched.text


def _page(keys: Keys) -> dict[str, str]:
    """The headers of a call from the shop's page with its publishable key."""
    return {**bearer(keys.publishable), "Origin": SHOP}


# -- the script -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sessionhub.js", "sessionhub.mjs"])
async def test_the_script_is_served_cacheable_and_compressed(
    api: httpx.AsyncClient, name: str
) -> None:
    """The built script comes as JavaScript with a cache lifetime and an ETag; gzip when accepted."""
    plain = await api.get(f"/sdk/{name}", headers={"Accept-Encoding": "identity"})
    zipped = await api.get(f"/sdk/{name}", headers={"Accept-Encoding": "gzip, br"})
    assert (200, 200) == (plain.status_code, zipped.status_code)
    assert "text/javascript; charset=utf-8" == plain.headers["content-type"]
    assert "public, max-age=3600" in plain.headers["cache-control"]
    assert (None, "gzip") == (
        plain.headers.get("content-encoding"),
        zipped.headers.get("content-encoding"),
    )
    built = TRACKER.joinpath(name.replace("sessionhub.", "sessionhub.min.")).read_bytes()
    assert built == plain.content == zipped.content  # httpx decodes the gzip
    assert plain.headers["etag"] == zipped.headers["etag"]


async def test_an_unchanged_script_is_not_sent_again(api: httpx.AsyncClient) -> None:
    """A request with the script's ETag gets 304 Not Modified and no body."""
    first = await api.get("/sdk/sessionhub.js")
    again = await api.get("/sdk/sessionhub.js", headers={"If-None-Match": first.headers["etag"]})
    assert (304, b"") == (again.status_code, again.content)


async def test_the_module_can_be_imported_from_another_origin(api: httpx.AsyncClient) -> None:
    """Module scripts are fetched with CORS: the answer allows any origin."""
    response = await api.get("/sdk/sessionhub.mjs", headers={"Origin": SHOP})
    assert "*" == response.headers["access-control-allow-origin"]


@pytest.mark.parametrize("built", ["sessionhub.min.js", "sessionhub.min.mjs"])
def test_the_built_scripts_are_made_from_the_current_source(built: str) -> None:
    """Each built file names the hash of the source it was made from: rerun
    scripts/build-tracker after changing src/sessionhub/tracker/sessionhub.js."""
    source = TRACKER.joinpath("sessionhub.js").read_bytes()
    banner = TRACKER.joinpath(built).read_text().splitlines()[0]
    found = re.search(r"source sha256 ([0-9a-f]{16})", banner)
    assert found is not None, banner
    assert hashlib.sha256(source).hexdigest()[:16] == found.group(1)


def test_the_served_script_is_at_most_4_kb_gzipped() -> None:
    """The classic script, minified and gzipped as the server sends it, fits in 4096 bytes and
    sets no cookie."""
    from sessionhub.api.routers.sdk import script

    served = script("sessionhub.js")
    assert len(served.gzipped) <= 4096
    assert gzip.decompress(served.gzipped) == served.body
    assert b"cookie" not in served.body.lower()


# -- the app's settings for the tracker -------------------------------------------------------


async def test_the_tracker_reads_the_apps_consent_settings_with_the_key_in_the_query(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """GET /v1/tracker/config?key=pk_… answers consent_mode and honor_dnt, cacheable for 5 minutes."""
    await _allow(api, keys, consent_mode="required", honor_dnt=True)
    response = await api.get(
        "/v1/tracker/config", params={"key": keys.publishable}, headers={"Origin": SHOP}
    )
    assert 200 == response.status_code
    assert {"consent_mode": "required", "honor_dnt": True} == response.json()
    assert "public, max-age=300" == response.headers["cache-control"]


@pytest.mark.parametrize(
    ("key", "origin", "status"),
    [
        ("unknown", SHOP, 401),
        ("secret", None, 403),
        ("publishable", "https://evil.example", 403),
        (None, SHOP, 401),
    ],
)
async def test_the_tracker_config_is_held_to_keys_and_origins(
    api: httpx.AsyncClient, keys: Keys, key: str | None, origin: str | None, status: int
) -> None:
    """Only a known publishable key, from an allowed origin, reads the tracker settings."""
    await _allow(api, keys)
    tokens = {"unknown": "pk_unknown", "secret": keys.secret, "publishable": keys.publishable}
    params = {"key": tokens[key]} if key else {}
    headers = {"Origin": origin} if origin else {}
    response = await api.get("/v1/tracker/config", params=params, headers=headers)
    assert status == response.status_code


# -- the beacon -----------------------------------------------------------------------------------


def _beacon(key: str, events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"key": key, "events": events})


async def test_a_beacon_sent_as_text_with_its_key_in_the_body_is_stored_once(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A text/plain beacon with the key in its body is stored (204); the same beacon again stores nothing new."""
    await _allow(api, keys)
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-1"))
    event = {"id": EVENT_ID, "session_id": session.id, "device_id": "dev-1", "type": "read"}
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": SHOP}
    body = _beacon(keys.publishable, [event])
    first = await api.post("/v1/beacon", content=body, headers=headers)
    again = await api.post("/v1/beacon", content=body, headers=headers)
    assert (204, 204) == (first.status_code, again.status_code)
    timeline = await engine.events.timeline(keys.app_id, session.id)
    assert [EVENT_ID] == [e.id for e in timeline.items]


async def test_a_beacon_for_an_ended_session_goes_to_the_devices_next_session(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Events of a session that timed out meanwhile are stored in a new session of their device
    (a beacon can't hear session_ended); events without a device are dropped."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-2"))
    clock.advance(31 * 60)
    events = [
        {
            "session_id": session.id,
            "device_id": "dev-2",
            "type": "page_view",
            "url": f"{SHOP}/late",
        },
        {"session_id": session.id, "type": "page_view", "path": "/lost"},
    ]
    response = await api.post("/v1/beacon", content=_beacon(keys.publishable, events))
    assert 204 == response.status_code
    sessions = (await engine.sessions.list(keys.app_id)).items
    [new] = [s for s in sessions if s.id != session.id]
    assert ("dev-2", "/late", 1) == (new.device_id, new.entry_page, new.page_views)
    assert [] == (await engine.events.timeline(keys.app_id, session.id)).items


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, "bad_request"),
        (b'{"events": []}', {}, 401, "unauthorized"),
        (b"[1, 2]", {}, 401, "unauthorized"),
        ("secret", {}, 403, "forbidden"),
        ("publishable", {"Origin": "https://evil.example"}, 403, "forbidden"),
        ("publishable-bad-events", {}, 422, "invalid_input"),
    ],
)
async def test_a_bad_beacon_is_refused_with_the_reason(
    api: httpx.AsyncClient,
    keys: Keys,
    body: bytes | str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    """Bad JSON is 400, no key 401, a secret key or a foreign origin 403, a bad shape 422: never a 500."""
    await _allow(api, keys)
    if body == "secret":
        body = _beacon(keys.secret, [])
    elif body == "publishable":
        body = _beacon(keys.publishable, [])
    elif body == "publishable-bad-events":
        body = orjson.dumps({"key": keys.publishable, "events": "no", "extra": 1})
    assert isinstance(body, bytes)
    response = await api.post("/v1/beacon", content=body, headers=headers)
    assert (status, code) == (response.status_code, response.json()["error"]["code"])


# -- identify from the page --------------------------------------------------------------------


async def test_identify_links_the_device_of_the_callers_session(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A publishable key naming its running session links that session's device to the user:
    the device's anonymous sessions join the user's, and its later sessions start as the user's."""
    await _allow(api, keys)
    older, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-3"))
    await engine.sessions.end(keys.app_id, older.id)
    current, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-3"))
    response = await api.post(
        f"/v1/sessions/{current.id}/identify", json={"user_id": "alice"}, headers=_page(keys)
    )
    assert 200 == response.status_code, response.text
    answer = response.json()
    assert ("dev-3", "alice", 2) == (
        answer["device_id"],
        answer["user_id"],
        answer["sessions_linked"],
    )
    assert "alice" == answer["session"]["user_id"]
    later, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-3"))
    assert "alice" == later.user_id
    history = await api.get("/v1/users/alice/sessions", headers=bearer(keys.secret))
    assert {older.id, current.id, later.id} == {s["id"] for s in history.json()["items"]}


async def test_identify_refuses_sessions_it_cannot_link(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Another user's session is 409 conflict, an ended one 409 session_ended, one without a
    device 422, an unknown one 404; none of them changes anything."""
    bobs, _ = await engine.sessions.create(
        keys.app_id, SessionCreate(device_id="dev-4", user_id="bob")
    )
    ended, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-5"))
    await engine.sessions.end(keys.app_id, ended.id)
    deviceless, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    expected = {
        bobs.id: (409, "conflict"),
        ended.id: (409, "session_ended"),
        deviceless.id: (422, "invalid_input"),
        "ses_unknown": (404, "not_found"),
    }
    got = {}
    for session_id in expected:
        response = await api.post(
            f"/v1/sessions/{session_id}/identify",
            json={"user_id": "mallory"},
            headers=bearer(keys.publishable),
        )
        got[session_id] = (response.status_code, response.json()["error"]["code"])
    assert expected == got
    assert [] == (await engine.sessions.list(keys.app_id, SessionFilter(user_id="mallory"))).items


async def test_identify_links_no_device_without_fingerprinting_consent_when_consent_is_required(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Under consent_mode required the session gets its user, but the device is linked (and
    its later sessions become the user's) only once it has fingerprinting consent."""
    await _allow(api, keys, consent_mode="required")
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-6"))
    path = f"/v1/sessions/{session.id}/identify"
    before = await api.post(path, json={"user_id": "carol"}, headers=_page(keys))
    unlinked, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-6"))
    consent = await api.post(
        "/v1/consent",
        json={"device_id": "dev-6", "purposes": {"analytics": True, "fingerprinting": True}},
        headers=_page(keys),
    )
    assert 200 == consent.status_code, consent.text
    after = await api.post(path, json={"user_id": "carol"}, headers=_page(keys))
    linked, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="dev-6"))
    assert (200, 0, "carol") == (
        before.status_code,
        before.json()["sessions_linked"],
        before.json()["session"]["user_id"],
    )
    assert (None, 200, "carol") == (unlinked.user_id, after.status_code, linked.user_id)
