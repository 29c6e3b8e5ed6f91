"""The session lifecycle over HTTP on each backend: limits, endings, rotation, identity, lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select

from sessionhub import Engine, FakeClock
from sessionhub.clock import from_ms
from sessionhub.storage.schema import sessions
from sessionhub.worker import Worker
from tests.conftest import Keys, bearer

IDLE_S = 1800
DAY_S = 86400


def when(value: str | None) -> datetime | None:
    """Parse an ISO 8601 time from a response (None stays None)."""
    return None if value is None else datetime.fromisoformat(value)


def after(start_ms: int, seconds: float) -> datetime:
    """The moment ``seconds`` after ``start_ms``, as a response renders it."""
    return from_ms(start_ms + round(seconds * 1000))


async def start(api: httpx.AsyncClient, token: str, **body: Any) -> dict[str, Any]:
    """Create a session and return its JSON, insisting on 201."""
    response = await api.post("/v1/sessions", json=body, headers=bearer(token))
    assert 201 == response.status_code, response.text
    result: dict[str, Any] = response.json()
    return result


async def call(
    api: httpx.AsyncClient, token: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    return await api.request(method, path, headers=bearer(token), **kwargs)


# -- idle and absolute limits --------------------------------------------------------------


async def test_session_is_active_one_second_before_the_idle_limit(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """A session idle for the timeout minus one second still reads as active."""
    session = await start(api, keys.publishable)
    clock.advance(IDLE_S - 1)
    got = (await call(api, keys.secret, "GET", f"/v1/sessions/{session['id']}")).json()
    assert ("active", None, None) == (got["status"], got["end_reason"], got["ended_at"])


async def test_session_reads_ended_by_timeout_one_second_after_the_idle_limit(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Past the idle limit a session reads as ended (timeout) at the moment the limit passed, before any worker run."""
    started = clock.now_ms()
    session = await start(api, keys.publishable)
    clock.advance(IDLE_S + 1)
    got = (await call(api, keys.secret, "GET", f"/v1/sessions/{session['id']}")).json()
    assert ("ended", "timeout") == (got["status"], got["end_reason"])
    assert after(started, IDLE_S) == when(got["ended_at"])
    assert got["expires_at"] is None


async def test_validate_answers_valid_before_and_invalid_after_the_idle_limit(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Validate says valid with the expiry one second before the limit and not valid (timeout) one second after."""
    session = await start(api, keys.publishable)
    path = f"/v1/sessions/{session['id']}/validate"
    clock.advance(IDLE_S - 1)
    before = (await call(api, keys.secret, "POST", path)).json()
    assert (True, None) == (before["valid"], before["reason"])
    assert after(clock.now_ms(), IDLE_S) == when(before["expires_at"])
    clock.advance(IDLE_S + 1)
    later = (await call(api, keys.secret, "POST", path)).json()
    assert (False, "timeout", None) == (later["valid"], later["reason"], later["expires_at"])


async def test_heartbeat_slides_the_idle_expiry(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """A heartbeat restarts the idle window: the session lives until idle timeout after the last beat."""
    session = await start(api, keys.publishable)
    path = f"/v1/sessions/{session['id']}"
    clock.advance(1000)
    beat_at = clock.now_ms()
    beat = await call(api, keys.publishable, "POST", f"{path}/heartbeat")
    assert 200 == beat.status_code
    assert after(beat_at, IDLE_S) == when(beat.json()["idle_expires_at"])
    clock.advance(IDLE_S - 1)
    assert "active" == (await call(api, keys.secret, "GET", path)).json()["status"]
    clock.advance(2)
    got = (await call(api, keys.secret, "GET", path)).json()
    assert ("ended", "timeout") == (got["status"], got["end_reason"])
    assert after(beat_at, IDLE_S) == when(got["ended_at"])


async def test_heartbeats_never_extend_past_the_absolute_lifetime(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock, engine: Engine
) -> None:
    """Regular heartbeats keep a session alive only until its absolute lifetime; then it is ended (expired)."""
    await engine.apps.update(keys.app_id, settings={"absolute_lifetime_s": 3600})
    started = clock.now_ms()
    session = await start(api, keys.publishable)
    path = f"/v1/sessions/{session['id']}"
    for _ in range(3):
        clock.advance(1000)
        beat = await call(api, keys.publishable, "POST", f"{path}/heartbeat")
        assert 200 == beat.status_code
        assert when(beat.json()["expires_at"]) <= after(started, 3600)  # type: ignore[operator]
    clock.advance(599)  # 3599 s after the start
    assert 200 == (await call(api, keys.publishable, "POST", f"{path}/heartbeat")).status_code
    clock.advance(2)
    late = await call(api, keys.publishable, "POST", f"{path}/heartbeat")
    assert 409 == late.status_code
    error = late.json()["error"]
    assert ("session_ended", "expired") == (error["code"], error["details"]["reason"])
    got = (await call(api, keys.secret, "GET", path)).json()
    assert ("ended", "expired") == (got["status"], got["end_reason"])
    assert after(started, 3600) == when(got["ended_at"])


async def test_refresh_extends_the_idle_window_but_not_the_lifetime(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock, engine: Engine
) -> None:
    """Refresh slides the idle expiry from now and reports the nearer of the two limits as expires_at."""
    await engine.apps.update(keys.app_id, settings={"absolute_lifetime_s": 2000})
    started = clock.now_ms()
    session = await start(api, keys.publishable)
    clock.advance(1000)
    refreshed = await call(api, keys.secret, "POST", f"/v1/sessions/{session['id']}/refresh")
    assert 200 == refreshed.status_code
    assert after(started, 2000) == when(refreshed.json()["expires_at"])
    assert after(started, 2000) == when(refreshed.json()["absolute_expires_at"])


# -- ended stays ended -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["logout", "timeout", "expired", "revoked"])
async def test_an_ended_session_stays_ended(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock, engine: Engine, how: str
) -> None:
    """However it ended, heartbeat, refresh and end answer 409 session_ended and validate says not valid, why."""
    if how == "expired":
        await engine.apps.update(keys.app_id, settings={"absolute_lifetime_s": 1000})
    session = await start(api, keys.publishable)
    path = f"/v1/sessions/{session['id']}"
    if how == "logout":
        assert 200 == (await call(api, keys.publishable, "POST", f"{path}/end")).status_code
    elif how == "revoked":
        assert 200 == (await call(api, keys.secret, "POST", f"{path}/revoke")).status_code
    elif how == "timeout":
        clock.advance(IDLE_S + 1)
    else:
        clock.advance(1001)
    ended = (await call(api, keys.secret, "GET", path)).json()
    for method, suffix, token in [
        ("POST", "/heartbeat", keys.publishable),
        ("POST", "/refresh", keys.secret),
        ("POST", "/end", keys.publishable),
        ("POST", "/rotate", keys.secret),
    ]:
        clock.advance(1)
        response = await call(api, token, method, f"{path}{suffix}")
        assert (409, "session_ended") == (response.status_code, response.json()["error"]["code"])
        assert how == response.json()["error"]["details"]["reason"]
    validation = (await call(api, keys.secret, "POST", f"{path}/validate")).json()
    assert (False, how) == (validation["valid"], validation["reason"])
    again = (await call(api, keys.secret, "GET", path)).json()
    assert (ended["status"], ended["end_reason"], ended["ended_at"]) == (
        again["status"],
        again["end_reason"],
        again["ended_at"],
    )
    assert ended["last_activity_at"] == again["last_activity_at"]


async def test_end_records_reason_exit_page_and_last_action(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Ending a session stores the reason, exit page and last action it was given."""
    session = await start(api, keys.publishable, entry_page="https://shop.example/")
    clock.advance(42)
    body = {"reason": "navigation", "exit_page": "https://shop.example/bye", "last_action": "buy"}
    ended = await call(
        api, keys.publishable, "POST", f"/v1/sessions/{session['id']}/end", json=body
    )
    assert 200 == ended.status_code
    got = ended.json()
    assert ("ended", "navigation", "https://shop.example/bye", "buy") == (
        got["status"],
        got["end_reason"],
        got["exit_page"],
        got["last_action"],
    )
    assert from_ms(clock.now_ms()) == when(got["ended_at"])


# -- per-kind limits ---------------------------------------------------------------------------


async def test_conversations_can_live_thirty_days_sliding(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock, engine: Engine
) -> None:
    """A per-kind override lets conversations idle up to 30 days with no lifetime cap while visits still time out after 30 minutes."""
    month = 30 * DAY_S
    await engine.apps.update(
        keys.app_id,
        settings={
            "kinds": {"conversation": {"idle_timeout_s": month, "absolute_lifetime_s": None}}
        },
    )
    chat = await start(api, keys.publishable, kind="conversation")
    visit = await start(api, keys.publishable, kind="visit")
    assert chat["absolute_expires_at"] is None
    for _ in range(3):  # 87 days in all, far past the default 24 h lifetime
        clock.advance(month - 1)
        beat = await call(api, keys.publishable, "POST", f"/v1/sessions/{chat['id']}/heartbeat")
        assert 200 == beat.status_code
    last_beat = clock.now_ms()
    visit_now = (await call(api, keys.secret, "GET", f"/v1/sessions/{visit['id']}")).json()
    assert ("ended", "timeout") == (visit_now["status"], visit_now["end_reason"])
    clock.advance(month + 1)
    chat_now = (await call(api, keys.secret, "GET", f"/v1/sessions/{chat['id']}")).json()
    assert ("ended", "timeout") == (chat_now["status"], chat_now["end_reason"])
    assert after(last_beat, month) == when(chat_now["ended_at"])


async def test_work_sessions_have_no_limits_by_default(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """A work session neither idles out nor expires unless the app sets limits for work."""
    work = await start(api, keys.secret, kind="work")
    assert (None, None, None) == (
        work["expires_at"],
        work["idle_expires_at"],
        work["absolute_expires_at"],
    )
    clock.advance(365 * DAY_S)
    got = (await call(api, keys.secret, "GET", f"/v1/sessions/{work['id']}")).json()
    assert "active" == got["status"]


async def test_app_wide_limits_apply_to_kinds_without_an_override(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock, engine: Engine
) -> None:
    """Once its per-kind override is removed, a conversation follows the app's idle timeout."""
    await engine.apps.update(keys.app_id, settings={"idle_timeout_s": 60, "kinds": {}})
    chat = await start(api, keys.publishable, kind="conversation")
    clock.advance(61)
    got = (await call(api, keys.secret, "GET", f"/v1/sessions/{chat['id']}")).json()
    assert ("ended", "timeout") == (got["status"], got["end_reason"])


# -- duration ----------------------------------------------------------------------------------


async def test_duration_is_last_activity_minus_start(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Duration counts up to the last activity (heartbeats included), not to now or to the idle limit."""
    session = await start(api, keys.publishable)
    path = f"/v1/sessions/{session['id']}"
    assert 0 == session["duration_s"]
    clock.advance(95.5)
    await call(api, keys.publishable, "POST", f"{path}/heartbeat")
    clock.advance(300)
    assert 95.5 == (await call(api, keys.secret, "GET", path)).json()["duration_s"]
    clock.advance(IDLE_S)
    timed_out = (await call(api, keys.secret, "GET", path)).json()
    assert ("timeout", 95.5) == (timed_out["end_reason"], timed_out["duration_s"])


async def test_ending_a_session_counts_as_its_last_activity(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """A reader who logs out after 120 s on one page has a 120 s session, not 0 s."""
    session = await start(api, keys.publishable)
    clock.advance(120)
    ended = await call(api, keys.publishable, "POST", f"/v1/sessions/{session['id']}/end")
    assert 120 == ended.json()["duration_s"]


# -- revoke ------------------------------------------------------------------------------------


async def test_revoke_ends_the_session_at_once(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """A revoked session is ended with reason revoked at that moment and no longer validates."""
    session = await start(api, keys.publishable)
    clock.advance(10)
    revoked = await call(api, keys.secret, "POST", f"/v1/sessions/{session['id']}/revoke")
    assert ("ended", "revoked") == (revoked.json()["status"], revoked.json()["end_reason"])
    assert from_ms(clock.now_ms()) == when(revoked.json()["ended_at"])
    validation = await call(api, keys.secret, "POST", f"/v1/sessions/{session['id']}/validate")
    assert (False, "revoked") == (validation.json()["valid"], validation.json()["reason"])


async def test_revoking_an_ended_session_keeps_its_first_ending(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Revoke on a session that already ended leaves its reason and end time as they were."""
    session = await start(api, keys.publishable)
    await call(api, keys.publishable, "POST", f"/v1/sessions/{session['id']}/end")
    ended_at = clock.now_ms()
    clock.advance(5)
    revoked = (await call(api, keys.secret, "POST", f"/v1/sessions/{session['id']}/revoke")).json()
    assert ("logout", from_ms(ended_at)) == (revoked["end_reason"], when(revoked["ended_at"]))


async def test_revoke_all_of_a_user_leaves_none_valid(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Revoking a user ends every running session of theirs and no other user's."""
    mine = [await start(api, keys.publishable, user_id="u1", device_id=f"d{i}") for i in range(4)]
    theirs = await start(api, keys.publishable, user_id="u2")
    clock.advance(1)
    revoked = await call(api, keys.secret, "POST", "/v1/users/u1/revoke")
    assert {"revoked": 4} == revoked.json()
    for session in mine:
        validation = await call(api, keys.secret, "POST", f"/v1/sessions/{session['id']}/validate")
        assert (False, "revoked") == (validation.json()["valid"], validation.json()["reason"])
    other = await call(api, keys.secret, "POST", f"/v1/sessions/{theirs['id']}/validate")
    assert other.json()["valid"] is True
    current = await call(api, keys.secret, "GET", "/v1/users/u1/sessions/current")
    assert 404 == current.status_code


# -- rotate ------------------------------------------------------------------------------------


async def test_rotate_gives_a_new_id_and_the_old_one_stops_at_once(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """After rotation the old id is 404 everywhere and the new id carries the whole session over."""
    session = await start(
        api,
        keys.publishable,
        user_id="u1",
        device_id="d1",
        metadata={"plan": "pro"},
        entry_page="https://shop.example/?utm_source=news",
    )
    clock.advance(30)
    rotated = await call(api, keys.secret, "POST", f"/v1/sessions/{session['id']}/rotate")
    assert 200 == rotated.status_code
    new = rotated.json()
    assert new["id"] != session["id"]
    assert new["id"].startswith("ses_")
    unchanged = {k: v for k, v in session.items() if k != "id"}
    assert unchanged == {k: v for k, v in new.items() if k != "id"}
    old = f"/v1/sessions/{session['id']}"
    for method, suffix, token in [
        ("GET", "", keys.secret),
        ("POST", "/validate", keys.secret),
        ("POST", "/heartbeat", keys.publishable),
        ("POST", "/end", keys.publishable),
        ("POST", "/rotate", keys.secret),
    ]:
        response = await call(api, token, method, f"{old}{suffix}")
        assert (404, "not_found") == (response.status_code, response.json()["error"]["code"])
    beat = await call(api, keys.publishable, "POST", f"/v1/sessions/{new['id']}/heartbeat")
    assert 200 == beat.status_code


# -- identify ----------------------------------------------------------------------------------


async def test_identify_joins_the_devices_earlier_sessions_to_the_users_history(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Identifying a device gives its anonymous sessions to the user, whose history then spans devices."""
    laptop = [await start(api, keys.publishable, device_id="laptop") for _ in range(2)]
    clock.advance(1)
    phone = await start(api, keys.publishable, device_id="phone", user_id="alice")
    stranger = await start(api, keys.publishable, device_id="other")
    identified = await call(
        api, keys.secret, "POST", "/v1/identify", json={"device_id": "laptop", "user_id": "alice"}
    )
    assert 200 == identified.status_code
    assert (2, None) == (identified.json()["sessions_linked"], identified.json()["session"])
    history = (await call(api, keys.secret, "GET", "/v1/users/alice/sessions")).json()
    assert [phone["id"], *(s["id"] for s in reversed(laptop))] == [
        s["id"] for s in history["items"]
    ]
    assert {"alice"} == {s["user_id"] for s in history["items"]}
    assert stranger["id"] not in {s["id"] for s in history["items"]}


async def test_later_sessions_of_an_identified_device_get_the_user(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A session started on a device after it was identified belongs to that user."""
    await call(
        api, keys.secret, "POST", "/v1/identify", json={"device_id": "laptop", "user_id": "alice"}
    )
    later = await start(api, keys.publishable, device_id="laptop")
    assert "alice" == later["user_id"]


async def test_identify_with_rotate_gives_the_login_session_a_new_id(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Identify naming the login session and rotate=true moves it to a new id owned by the user."""
    session = await start(api, keys.publishable, device_id="laptop")
    body = {"device_id": "laptop", "user_id": "alice", "session_id": session["id"], "rotate": True}
    identified = (await call(api, keys.secret, "POST", "/v1/identify", json=body)).json()
    new = identified["session"]
    assert new["id"] != session["id"]
    assert ("alice", session["started_at"]) == (new["user_id"], new["started_at"])
    old = await call(api, keys.secret, "GET", f"/v1/sessions/{session['id']}")
    assert 404 == old.status_code
    got = (await call(api, keys.secret, "GET", f"/v1/sessions/{new['id']}")).json()
    assert ("active", "alice") == (got["status"], got["user_id"])


async def test_identify_of_an_unknown_session_changes_nothing(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Identify naming a session that does not exist is a 404 and links no device."""
    await start(api, keys.publishable, device_id="laptop")
    body = {"device_id": "laptop", "user_id": "alice", "session_id": "nope"}
    response = await call(api, keys.secret, "POST", "/v1/identify", json=body)
    assert 404 == response.status_code
    history = (await call(api, keys.secret, "GET", "/v1/users/alice/sessions")).json()
    assert [] == history["items"]
    later = await start(api, keys.publishable, device_id="laptop")
    assert later["user_id"] is None


# -- caller-chosen ids (get-or-create) ---------------------------------------------------------


async def test_a_caller_chosen_id_makes_create_a_get_or_create(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """The first create with an id answers 201, a repeat 200 with the same session."""
    body = {"id": "user-123-session-456", "kind": "conversation", "user_id": "u123"}
    first = await call(api, keys.secret, "POST", "/v1/sessions", json=body)
    assert (201, "user-123-session-456") == (first.status_code, first.json()["id"])
    clock.advance(5)
    second = await call(api, keys.secret, "POST", "/v1/sessions", json=body)
    assert 200 == second.status_code
    assert first.json()["started_at"] == second.json()["started_at"]
    listed = (await call(api, keys.secret, "GET", "/v1/sessions")).json()
    assert ["user-123-session-456"] == [s["id"] for s in listed["items"]]


async def test_get_or_create_of_an_ended_session_is_a_conflict(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A caller-chosen id whose session has ended is not revived: 409 session_ended."""
    body = {"id": "chat-1"}
    await call(api, keys.secret, "POST", "/v1/sessions", json=body)
    await call(api, keys.secret, "POST", "/v1/sessions/chat-1/end")
    again = await call(api, keys.secret, "POST", "/v1/sessions", json=body)
    assert (409, "session_ended") == (again.status_code, again.json()["error"]["code"])


async def test_a_publishable_key_may_not_choose_the_session_id(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A publishable key giving an id gets 403 and no session is created."""
    response = await call(api, keys.publishable, "POST", "/v1/sessions", json={"id": "mine"})
    assert (403, "forbidden") == (response.status_code, response.json()["error"]["code"])
    assert 404 == (await call(api, keys.secret, "GET", "/v1/sessions/mine")).status_code


async def test_generated_ids_are_prefixed_and_carry_128_bits(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Generated session ids start with ses_ and are never repeated."""
    ids = [(await start(api, keys.publishable))["id"] for _ in range(20)]
    assert 20 == len(set(ids))
    for session_id in ids:
        assert session_id.startswith("ses_")
        assert len(session_id) - 4 >= 22  # 128 bits need at least 22 base64 characters


# -- what a session records at its start -----------------------------------------------------------


async def test_create_records_device_entry_page_referrer_and_campaign(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """The User-Agent, screen, entry page (its path), referrer and utm_* parameters are recorded at the start."""
    ua = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    body = {
        "entry_page": "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=spring",
        "referrer": "https://mail.example/",
        "screen": "390x844",
    }
    response = await api.post(
        "/v1/sessions", json=body, headers={**bearer(keys.publishable), "User-Agent": ua}
    )
    got = response.json()
    assert ("mobile", "390x844") == (got["device"]["type"], got["device"]["screen"])
    assert got["device"]["browser"] is not None
    assert got["device"]["os"] is not None
    assert ("news", "email", "spring") == (
        got["campaign"]["source"],
        got["campaign"]["medium"],
        got["campaign"]["name"],
    )
    assert ("/", body["referrer"]) == (got["entry_page"], got["referrer"])


async def test_update_merge_patches_metadata_and_sets_the_user(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """PATCH merges metadata (null removes a key) and sets the user id."""
    session = await start(api, keys.publishable, metadata={"a": 1, "b": {"c": 2, "d": 3}})
    patch = {"metadata": {"a": None, "b": {"c": 5}}, "user_id": "u9"}
    patched = await call(api, keys.secret, "PATCH", f"/v1/sessions/{session['id']}", json=patch)
    assert ({"b": {"c": 5, "d": 3}}, "u9") == (
        patched.json()["metadata"],
        patched.json()["user_id"],
    )


# -- lists, search, pagination -----------------------------------------------------------------


async def test_pages_walk_every_session_once_newest_first(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Following next_cursor with a small limit yields every session exactly once, newest first."""
    created = []
    for i in range(23):
        created.append((await start(api, keys.publishable))["id"])
        if i % 3 == 0:  # several sessions share a start time: the order must still be total
            clock.advance(1)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await call(api, keys.secret, "GET", "/v1/sessions", params=params)).json()
        seen += [s["id"] for s in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert 5 == pages
    assert list(reversed(created)) == seen


async def test_pages_stay_whole_when_sessions_start_between_pages(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Sessions created while paging do not shift the pages: no duplicates, no gaps."""
    created = []
    for _ in range(6):
        created.append((await start(api, keys.publishable))["id"])
        clock.advance(1)
    first = (await call(api, keys.secret, "GET", "/v1/sessions", params={"limit": 3})).json()
    await start(api, keys.publishable)
    second = (
        await call(
            api,
            keys.secret,
            "GET",
            "/v1/sessions",
            params={"limit": 3, "cursor": first["next_cursor"]},
        )
    ).json()
    assert list(reversed(created)) == [s["id"] for s in first["items"] + second["items"]]


async def test_list_filters_by_status_kind_user_device_page_type_and_time(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Each list filter keeps exactly the sessions that match it."""
    t0 = clock.now_ms()
    desktop_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    a = await start(
        api,
        keys.secret,
        user_id="u1",
        device_id="d1",
        entry_page="https://x.example/a",
        user_agent=desktop_ua,
    )
    clock.advance(60)
    t1 = clock.now_ms()
    b = await start(api, keys.secret, kind="conversation", user_id="u2", device_id="d1")
    clock.advance(60)
    c = await start(api, keys.secret, kind="work", device_id="d2", entry_page="https://x.example/c")
    await call(api, keys.secret, "POST", f"/v1/sessions/{c['id']}/end")

    async def ids(**params: Any) -> set[str]:
        response = await call(api, keys.secret, "GET", "/v1/sessions", params=params)
        assert 200 == response.status_code, response.text
        return {s["id"] for s in response.json()["items"]}

    assert {a["id"], b["id"]} == await ids(status="active")
    assert {c["id"]} == await ids(status="ended")
    assert {b["id"]} == await ids(kind="conversation")
    assert {a["id"]} == await ids(user_id="u1")
    assert {a["id"], b["id"]} == await ids(device_id="d1")
    assert {c["id"]} == await ids(entry_page="/c")
    assert {a["id"]} == await ids(device_type="desktop")
    assert {b["id"], c["id"]} == await ids(started_from=from_ms(t1).isoformat())
    assert {a["id"], b["id"]} == await ids(started_to=from_ms(t1 + 1).isoformat())
    assert {a["id"]} == await ids(
        started_from=from_ms(t0).isoformat(), started_to=from_ms(t1).isoformat()
    )
    assert {b["id"]} == await ids(device_id="d1", kind="conversation", status="active")


async def test_status_filter_sees_idle_sessions_as_ended_before_the_worker(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Listing by status uses the effective state: an idle session is listed as ended, not active."""
    idle = await start(api, keys.publishable)
    clock.advance(IDLE_S + 1)
    fresh = await start(api, keys.publishable)
    active = (
        await call(api, keys.secret, "GET", "/v1/sessions", params={"status": "active"})
    ).json()
    ended = (await call(api, keys.secret, "GET", "/v1/sessions", params={"status": "ended"})).json()
    assert [fresh["id"]] == [s["id"] for s in active["items"]]
    assert [(idle["id"], "timeout")] == [(s["id"], s["end_reason"]) for s in ended["items"]]


async def test_a_damaged_cursor_is_refused(api: httpx.AsyncClient, keys: Keys) -> None:
    """A cursor this API did not give out is a 422 naming the cursor."""
    response = await call(api, keys.secret, "GET", "/v1/sessions", params={"cursor": "bm9wZQ"})
    assert (422, "cursor") == (response.status_code, response.json()["error"]["details"]["field"])


async def test_active_sessions_counts_only_running_ones(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Active now counts and lists sessions that are running at this moment, across pages."""
    idle = await start(api, keys.publishable)
    clock.advance(IDLE_S - 10)
    running = [await start(api, keys.publishable) for _ in range(3)]
    ended = await start(api, keys.publishable)
    await call(api, keys.publishable, "POST", f"/v1/sessions/{ended['id']}/end")
    before = (await call(api, keys.secret, "GET", "/v1/sessions/active")).json()
    assert 4 == before["count"]
    clock.advance(11)
    now = (await call(api, keys.secret, "GET", "/v1/sessions/active", params={"limit": 2})).json()
    assert 3 == now["count"]
    rest = (
        await call(
            api,
            keys.secret,
            "GET",
            "/v1/sessions/active",
            params={"limit": 2, "cursor": now["next_cursor"]},
        )
    ).json()
    listed = [s["id"] for s in now["items"] + rest["items"]]
    assert sorted(s["id"] for s in running) == sorted(listed)
    assert idle["id"] not in listed


async def test_current_session_is_the_users_most_recently_active_running_one(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """The current session is the running session of the user with the latest activity."""
    older = await start(api, keys.publishable, user_id="u1", device_id="laptop")
    clock.advance(10)
    await start(api, keys.publishable, user_id="u1", device_id="phone")
    clock.advance(10)
    await call(api, keys.publishable, "POST", f"/v1/sessions/{older['id']}/heartbeat")
    current = await call(api, keys.secret, "GET", "/v1/users/u1/sessions/current")
    assert older["id"] == current.json()["id"]
    nobody = await call(api, keys.secret, "GET", "/v1/users/nobody/sessions/current")
    assert (404, "not_found") == (nobody.status_code, nobody.json()["error"]["code"])


async def test_sessions_by_device_lists_that_device_only(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """The device listing holds the sessions of that device id or fingerprint, newest first."""
    first = await start(api, keys.publishable, device_id="fp-abc")
    clock.advance(1)
    await start(api, keys.publishable, device_id="fp-other")
    second = await start(api, keys.publishable, device_id="fp-abc")
    page = (await call(api, keys.secret, "GET", "/v1/devices/fp-abc/sessions")).json()
    assert [second["id"], first["id"]] == [s["id"] for s in page["items"]]


# -- delete ------------------------------------------------------------------------------------


async def test_delete_makes_the_session_404_and_the_worker_purges_it(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """A deleted session is gone at once for every call, and the worker removes its row."""
    session = await start(api, keys.publishable, user_id="u1")
    kept = await start(api, keys.publishable, user_id="u1")
    deleted = await call(api, keys.secret, "DELETE", f"/v1/sessions/{session['id']}")
    assert 204 == deleted.status_code
    for method, suffix in [("GET", ""), ("DELETE", ""), ("POST", "/validate"), ("PATCH", "")]:
        kwargs: dict[str, Any] = {"json": {}} if method == "PATCH" else {}
        response = await call(
            api, keys.secret, method, f"/v1/sessions/{session['id']}{suffix}", **kwargs
        )
        assert 404 == response.status_code
    history = (await call(api, keys.secret, "GET", "/v1/users/u1/sessions")).json()
    assert [kept["id"]] == [s["id"] for s in history["items"]]
    result = await Worker(engine).run_once()
    assert 1 == result["purge_deleted_sessions"]
    assert 1 == await engine.db.read(_count_session_rows)


def _count_session_rows(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(sessions)).scalar_one())
