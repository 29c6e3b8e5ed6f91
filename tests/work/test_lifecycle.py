"""Work sessions over the API: create, versions, transitions, active time, archive, purge."""

from __future__ import annotations

import httpx

from sessionhub import Engine, FakeClock
from tests.conftest import Keys, bearer
from tests.work.conftest import Call, new_session


async def test_a_blank_session_is_a_draft_owned_by_the_actor(call: Call) -> None:
    """A blank work session starts as a draft with the given fields, owned by the acting user, version 1."""
    body = {
        "name": "Fix login",
        "description": "Users can't log in",
        "type": "bug_fix",
        "priority": "urgent",
        "estimate_s": 3600,
        "custom": {"ticket": "OPS-1"},
    }
    response = await call("POST", "/v1/work/sessions", json=body)
    assert 201 == response.status_code
    got = response.json()
    assert ('"1"', "draft", "alice", "owner") == (
        response.headers["etag"],
        got["status"],
        got["owner_id"],
        got["role"],
    )
    assert ("Fix login", "urgent", 3600, {"ticket": "OPS-1"}) == (
        got["name"],
        got["priority"],
        got["estimate_s"],
        got["custom"],
    )
    assert ["active", "cancelled"] == got["allowed_transitions"]


async def test_a_blank_session_needs_a_name(call: Call) -> None:
    """Without a template, a missing name is a 422 naming the field."""
    response = await call("POST", "/v1/work/sessions", json={"description": "x"})
    assert (422, "name") == (response.status_code, response.json()["error"]["details"]["field"])


async def test_a_work_session_is_a_sessions_row_of_kind_work_that_stays_active(
    call: Call, api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """The work session shows in /v1/sessions as kind work, stays active through pauses and
    days without activity, and ends with reason completed."""
    work = await new_session(call)
    await call("POST", f"/v1/work/sessions/{work['id']}/transition", json={"to": "active"})
    await call("POST", f"/v1/work/sessions/{work['id']}/transition", json={"to": "paused"})
    clock.advance(3 * 86400)
    plain = (await api.get(f"/v1/sessions/{work['id']}", headers=bearer(keys.secret))).json()
    assert ("work", "active", "alice") == (plain["kind"], plain["status"], plain["user_id"])
    await call("POST", f"/v1/work/sessions/{work['id']}/transition", json={"to": "completed"})
    plain = (await api.get(f"/v1/sessions/{work['id']}", headers=bearer(keys.secret))).json()
    assert ("ended", "completed") == (plain["status"], plain["end_reason"])


async def test_actual_duration_counts_active_time_only(call: Call, clock: FakeClock) -> None:
    """Active 10 min, paused 50 min, active 5 min: the actual duration is 15 min, and every
    transition is stamped with its time and actor."""
    work = await new_session(call)
    path = f"/v1/work/sessions/{work['id']}/transition"
    await call("POST", path, json={"to": "active"})
    clock.advance(600)
    await call("POST", path, json={"to": "paused"})
    clock.advance(3000)
    await call("POST", path, json={"to": "active"})
    clock.advance(300)
    done = (await call("POST", path, json={"to": "completed"})).json()
    assert 900.0 == done["active_s"]
    assert [
        ("draft", "active"),
        ("active", "paused"),
        ("paused", "active"),
        ("active", "completed"),
    ] == [(t["from_status"], t["to"]) for t in done["transitions"]]
    assert {"alice"} == {t["by"] for t in done["transitions"]}
    assert "2026-01-01T01:05:00Z" == done["transitions"][-1]["at"].replace(".000", "")


async def test_an_illegal_transition_is_a_409_listing_the_allowed_ones(call: Call) -> None:
    """Pausing a draft is refused with 409 illegal_transition and the legal targets."""
    work = await new_session(call)
    response = await call(
        "POST", f"/v1/work/sessions/{work['id']}/transition", json={"to": "paused"}
    )
    error = response.json()["error"]
    assert (409, "illegal_transition", ["active", "cancelled"]) == (
        response.status_code,
        error["code"],
        error["details"]["allowed"],
    )


async def test_a_completed_session_can_not_be_reopened(call: Call) -> None:
    """Completed is final: going active again is a 409 with nothing allowed."""
    work = await new_session(call)
    path = f"/v1/work/sessions/{work['id']}/transition"
    await call("POST", path, json={"to": "active"})
    await call("POST", path, json={"to": "completed"})
    response = await call("POST", path, json={"to": "active"})
    assert (409, []) == (response.status_code, response.json()["error"]["details"]["allowed"])


async def test_a_stale_if_match_is_a_409_with_the_current_state(call: Call) -> None:
    """Two collaborators edit version 1: the second write gets 409 version_mismatch with the first's result."""
    work = await new_session(call)
    path = f"/v1/work/sessions/{work['id']}"
    first = await call("PATCH", path, json={"name": "A"}, headers={"If-Match": '"1"'})
    second = await call("PATCH", path, json={"name": "B"}, headers={"If-Match": '"1"'})
    assert (200, '"2"') == (first.status_code, first.headers["etag"])
    error = second.json()["error"]
    assert (409, "version_mismatch", "A", 2) == (
        second.status_code,
        error["code"],
        error["details"]["current"]["name"],
        error["details"]["current"]["version"],
    )
    assert "A" == (await call("GET", path)).json()["name"]


async def test_custom_fields_are_merge_patched(call: Call) -> None:
    """PATCH custom is an RFC 7396 merge patch: keys set, replaced, or removed with null."""
    work = await new_session(call, custom={"a": 1, "b": 2})
    response = await call(
        "PATCH", f"/v1/work/sessions/{work['id']}", json={"custom": {"b": None, "c": 3}}
    )
    assert {"a": 1, "c": 3} == response.json()["custom"]


async def test_a_malformed_if_match_is_a_422(call: Call) -> None:
    """If-Match must name a version; anything else is a 422 naming the header."""
    work = await new_session(call)
    response = await call(
        "PATCH", f"/v1/work/sessions/{work['id']}", json={"name": "x"}, headers={"If-Match": "abc"}
    )
    assert (422, "If-Match") == (
        response.status_code,
        response.json()["error"]["details"]["field"],
    )


async def test_archiving_makes_the_session_read_only(call: Call) -> None:
    """DELETE archives (from any state) and ends the session row; later edits are 409 session_archived."""
    work = await new_session(call)
    archived = await call("DELETE", f"/v1/work/sessions/{work['id']}")
    assert ("archived", None) == (archived.json()["status"], None)
    edit = await call("PATCH", f"/v1/work/sessions/{work['id']}", json={"name": "x"})
    assert (409, "session_archived") == (edit.status_code, edit.json()["error"]["code"])


async def test_purge_needs_an_archived_session_and_removes_it(call: Call) -> None:
    """Purging an open session is a 409; once archived, purge makes it a 404."""
    work = await new_session(call)
    path = f"/v1/work/sessions/{work['id']}"
    refused = await call("POST", f"{path}/purge")
    assert (409, "illegal_transition") == (refused.status_code, refused.json()["error"]["code"])
    await call("DELETE", path)
    assert 204 == (await call("POST", f"{path}/purge")).status_code
    assert 404 == (await call("GET", path)).status_code


async def test_the_actor_header_is_required(api: httpx.AsyncClient, keys: Keys) -> None:
    """A secret key without X-Sessionhub-User is refused 401 actor_required."""
    response = await api.post("/v1/work/sessions", json={"name": "x"}, headers=bearer(keys.secret))
    assert (401, "actor_required") == (response.status_code, response.json()["error"]["code"])


async def test_a_publishable_key_is_refused(api: httpx.AsyncClient, keys: Keys) -> None:
    """Work sessions are server-side: a publishable key gets 403."""
    headers = {**bearer(keys.publishable), "X-Sessionhub-User": "alice"}
    response = await api.post("/v1/work/sessions", json={"name": "x"}, headers=headers)
    assert 403 == response.status_code


async def test_roles_decide_who_may_do_what(call: Call) -> None:
    """Strangers get 403 not_a_member; viewers only read; collaborators edit but don't run the
    lifecycle or manage people; owners do all of it."""
    work = await new_session(call)
    path = f"/v1/work/sessions/{work['id']}"
    await call("POST", f"{path}/members", json={"user_id": "carol", "role": "viewer"})
    await call("POST", f"{path}/members", json={"user_id": "bob", "role": "collaborator"})
    stranger = await call("GET", path, user="mallory")
    assert (403, "not_a_member") == (stranger.status_code, stranger.json()["error"]["code"])
    assert 200 == (await call("GET", path, user="carol")).status_code
    viewer_edit = await call("PATCH", path, user="carol", json={"name": "x"})
    assert (403, "role_forbidden") == (viewer_edit.status_code, viewer_edit.json()["error"]["code"])
    assert 200 == (await call("PATCH", path, user="bob", json={"name": "y"})).status_code
    start = await call("POST", f"{path}/transition", user="bob", json={"to": "active"})
    invite = await call("POST", f"{path}/members", user="bob", json={"user_id": "dan"})
    assert (403, 403) == (start.status_code, invite.status_code)
    assert 200 == (await call("POST", f"{path}/transition", json={"to": "active"})).status_code


async def test_the_last_owner_can_not_leave(call: Call) -> None:
    """Demoting or removing the only owner is a 409 last_owner; with a second owner it works."""
    work = await new_session(call)
    path = f"/v1/work/sessions/{work['id']}/members"
    demote = await call("PUT", f"{path}/alice", json={"role": "viewer"})
    assert (409, "last_owner") == (demote.status_code, demote.json()["error"]["code"])
    await call("PUT", f"{path}/bob", json={"role": "owner"})
    removed = await call("DELETE", f"{path}/alice")
    assert [("bob", "owner")] == [(m["user_id"], m["role"]) for m in removed.json()["items"]]
    assert 403 == (await call("GET", f"/v1/work/sessions/{work['id']}")).status_code


async def test_another_apps_key_finds_no_work_session(
    call: Call, api: httpx.AsyncClient, engine: Engine
) -> None:
    """A work session is invisible (404) to another app's secret key, whoever the actor."""
    work = await new_session(call)
    other = await engine.apps.create("other")
    sk = await engine.keys.issue("secret", other.id)
    response = await api.get(
        f"/v1/work/sessions/{work['id']}",
        headers={**bearer(sk.token), "X-Sessionhub-User": "alice"},
    )
    assert 404 == response.status_code


async def test_the_engine_works_without_http(engine: Engine, keys: Keys) -> None:
    """engine.work is usable in-process: create, start and read back."""
    from sessionhub.models.work import WorkCreate

    work = engine.work.sessions
    created = await work.create(keys.app_id, "alice", WorkCreate(template_id="tpl_research"))
    started = await work.transition(keys.app_id, "alice", created.id, "active", 1)
    assert ("Research & Exploration", "active", 2) == (
        started.name,
        started.status,
        started.version,
    )
