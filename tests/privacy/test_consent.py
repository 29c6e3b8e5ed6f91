"""Consent: purposes per device and user, the two consent modes, GPC, DNT and the log."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Connection, select

from sessionhub import Engine
from sessionhub.core.audit import subject_ref
from sessionhub.storage.schema import device_links, events, sessions
from sessionhub.storage.schema_audit import audit_log
from tests.conftest import Keys
from tests.privacy.support import pk, send_events, set_settings, sk


async def _start(api: httpx.AsyncClient, keys: Keys, **body: Any) -> str:
    response = await api.post("/v1/sessions", json=body, headers=sk(keys))
    assert 201 == response.status_code, response.text
    return str(response.json()["id"])


def _count_events(conn: Connection) -> int:
    return len(list(conn.execute(select(events.c.eid))))


def _links(conn: Connection) -> list[tuple[str, str]]:
    return [
        tuple(r) for r in conn.execute(select(device_links.c.device_id, device_links.c.user_id))
    ]


def _device_ids(conn: Connection, user_id: str) -> list[str | None]:
    query = select(sessions.c.device_id).where(sessions.c.user_id == user_id)
    return list(conn.execute(query).scalars())


def _audit(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings()]


async def test_opt_out_mode_tracks_until_the_device_withdraws_analytics(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """In opt_out mode events are kept until the device withdraws analytics; from then on they are refused with 403 consent_required and nothing is stored."""
    session_id = await _start(api, keys, device_id="d1")
    assert 200 == (await send_events(api, keys, session_id)).status_code
    withdrawn = await api.post(
        "/v1/consent", json={"device_id": "d1", "purposes": {"analytics": False}}, headers=pk(keys)
    )
    refused = await send_events(api, keys, session_id, 2)
    assert (200, False) == (withdrawn.status_code, withdrawn.json()["effective"]["analytics"])
    assert (403, "consent_required") == (refused.status_code, refused.json()["error"]["code"])
    assert 1 == await engine.db.read(_count_events)


async def test_required_mode_refuses_events_until_analytics_is_granted(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """In required mode a session may start, but its events are refused until the device grants analytics."""
    await set_settings(engine, keys.app_id, consent_mode="required")
    session_id = await _start(api, keys, device_id="d1")
    before = await send_events(api, keys, session_id)
    sessionized = await api.post(
        "/v1/events", json={"events": [{"device_id": "d2", "type": "action"}]}, headers=pk(keys)
    )
    await api.post(
        "/v1/consent", json={"device_id": "d1", "purposes": {"analytics": True}}, headers=pk(keys)
    )
    after = await send_events(api, keys, session_id)
    assert (403, 403, 200) == (before.status_code, sessionized.status_code, after.status_code)
    assert 1 == after.json()["accepted"]
    assert 1 == await engine.db.read(_count_events)


async def test_a_users_withdrawal_covers_the_devices_linked_to_them(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Once a user withdraws analytics, events sessionized by a device linked to them are refused too."""
    await api.post("/v1/identify", json={"device_id": "d1", "user_id": "u1"}, headers=sk(keys))
    await api.post(
        "/v1/consent", json={"user_id": "u1", "purposes": {"analytics": False}}, headers=sk(keys)
    )
    response = await api.post(
        "/v1/events", json={"events": [{"device_id": "d1", "type": "action"}]}, headers=pk(keys)
    )
    assert (403, 0) == (response.status_code, await engine.db.read(_count_events))


async def test_required_mode_links_no_device_without_fingerprinting_consent(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """In required mode identify gives the session its user but links no device until fingerprinting is granted."""
    await set_settings(engine, keys.app_id, consent_mode="required")
    body = {"device_id": "d1", "user_id": "u1"}
    first = await api.post("/v1/identify", json=body, headers=sk(keys))
    unlinked = await engine.db.read(_links)
    await api.post(
        "/v1/consent", json={**body, "purposes": {"fingerprinting": True}}, headers=sk(keys)
    )
    await api.post("/v1/identify", json=body, headers=sk(keys))
    assert (200, []) == (first.status_code, unlinked)
    assert [("d1", "u1")] == await engine.db.read(_links)


async def test_withdrawing_fingerprinting_unlinks_devices_and_clears_their_ids(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A user's withdrawal of fingerprinting deletes their device links and the device ids on their sessions; identify no longer links."""
    await _start(api, keys, device_id="d1")
    await api.post("/v1/identify", json={"device_id": "d1", "user_id": "u1"}, headers=sk(keys))
    assert ["d1"] == await engine.db.read(_device_ids, "u1")
    await api.post(
        "/v1/consent",
        json={"user_id": "u1", "purposes": {"fingerprinting": False}},
        headers=sk(keys),
    )
    again = await api.post(
        "/v1/identify", json={"device_id": "d1", "user_id": "u1"}, headers=sk(keys)
    )
    assert ([], [None]) == (await engine.db.read(_links), await engine.db.read(_device_ids, "u1"))
    assert 0 == again.json()["sessions_linked"]


async def test_gpc_header_opts_the_device_and_its_linked_user_out_of_sale(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A request with Sec-GPC: 1 sets do_not_sell for its device and the user linked to it, logged with source gpc, once."""
    await api.post("/v1/identify", json={"device_id": "d1", "user_id": "u1"}, headers=sk(keys))
    for _ in range(2):
        await api.post(
            "/v1/sessions", json={"device_id": "d1"}, headers={**pk(keys), "Sec-GPC": "1"}
        )
    state = (await api.get("/v1/consent", params={"user_id": "u1"}, headers=sk(keys))).json()
    log = await api.get("/v1/consent/log", params={"device_id": "d1"}, headers=sk(keys))
    user_log = await api.get("/v1/consent/log", params={"user_id": "u1"}, headers=sk(keys))
    assert (True, True) == (state["do_not_sell"], state["user"]["do_not_sell"])
    assert [("do_not_sell", True, "gpc")] == [
        (e["purpose"], e["granted"], e["source"]) for e in log.json()["items"]
    ]
    assert 1 == len(user_log.json()["items"])


async def test_gpc_on_events_is_recorded_with_the_events(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Events sent with Sec-GPC: 1 are stored and their device is opted out of sale."""
    session_id = await _start(api, keys, device_id="d9")
    response = await send_events(api, keys, session_id, 1, **{"Sec-GPC": "1"})
    state = (await api.get("/v1/consent", params={"device_id": "d9"}, headers=sk(keys))).json()
    assert (200, True, True) == (
        response.status_code,
        state["do_not_sell"],
        state["effective"]["analytics"],
    )


async def test_dnt_is_honoured_only_when_the_app_says_so(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """DNT: 1 is ignored by default; with honor_dnt the request's events are refused (reason do_not_track)."""
    session_id = await _start(api, keys, device_id="d1")
    ignored = await send_events(api, keys, session_id, 1, DNT="1")
    await set_settings(engine, keys.app_id, honor_dnt=True)
    honoured = await send_events(api, keys, session_id, 1, DNT="1")
    assert (200, 403) == (ignored.status_code, honoured.status_code)
    assert "do_not_track" == honoured.json()["error"]["details"]["rejected"][0]["details"]["reason"]
    assert 1 == await engine.db.read(_count_events)


async def test_publishable_keys_set_only_a_devices_consent(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A publishable key may not set a user's consent (403 naming user_id); a secret key may."""
    body = {"user_id": "u1", "purposes": {"marketing": True}}
    refused = await api.post("/v1/consent", json=body, headers=pk(keys))
    allowed = await api.post("/v1/consent", json=body, headers=sk(keys))
    assert (403, "user_id") == (refused.status_code, refused.json()["error"]["details"]["field"])
    assert (200, True) == (allowed.status_code, allowed.json()["user"]["purposes"]["marketing"])


async def test_a_consent_change_names_a_subject(api: httpx.AsyncClient, keys: Keys) -> None:
    """A consent change without device_id or user_id is a 422."""
    response = await api.post(
        "/v1/consent", json={"purposes": {"analytics": True}}, headers=sk(keys)
    )
    assert 422 == response.status_code


async def test_the_consent_log_keeps_every_change_in_order_and_skips_repeats(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Grant, repeat, withdraw, grant: three log entries in order with who and how; the repeat changed nothing."""
    for granted in (True, True, False, True):
        await api.post(
            "/v1/consent",
            json={"device_id": "d1", "purposes": {"marketing": granted}},
            headers=pk(keys),
        )
    page = await api.get(
        "/v1/consent/log", params={"device_id": "d1", "limit": 2}, headers=sk(keys)
    )
    rest = await api.get(
        "/v1/consent/log",
        params={"device_id": "d1", "cursor": page.json()["next_cursor"]},
        headers=sk(keys),
    )
    entries = page.json()["items"] + rest.json()["items"]
    assert [True, False, True] == [e["granted"] for e in entries]
    assert {("tracker", True)} == {(e["source"], e["actor"].startswith("key:")) for e in entries}


async def test_consent_changes_are_audited_under_a_hashed_subject(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Each consent change writes an audit entry whose target is the subject's salted hash, never the id."""
    await api.post(
        "/v1/consent",
        json={"user_id": "person-42", "purposes": {"analytics": False}},
        headers=sk(keys),
    )
    entries = [e for e in await engine.db.read(_audit) if e["action"] == "consent.change"]
    assert [subject_ref("person-42")] == [e["target"] for e in entries]
    assert "person-42" not in str(entries)
