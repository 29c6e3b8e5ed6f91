"""Bad input to work-session endpoints is a 4xx that names the problem, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.work.conftest import Call, new_session

BAD_BODIES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/work/sessions", {"name": "a\x00b"}),
    ("POST", "/v1/work/sessions", {"name": "x", "custom": {"n": 2**70}}),
    ("POST", "/v1/work/sessions", {"name": "x", "estimate_s": "60"}),
    ("POST", "/v1/work/sessions", {"name": "x", "priority": "asap"}),
    ("POST", "/v1/work/sessions", {"name": "x", "surprise": 1}),
    ("POST", "/v1/work/sessions", {"name": "x" * 201}),
    ("POST", "/v1/work/sessions", {"name": "x", "custom": {"big": "y" * 20_000}}),
    ("PATCH", "{s}", {"name": None}),
    ("PATCH", "{s}", {"custom": {"k": "\x00"}}),
    ("POST", "{s}/transition", {"to": "archived"}),
    ("POST", "{s}/goals", {"title": ""}),
    ("POST", "{s}/goals", {"title": "g", "depends_on": ["x" * 41]}),
    ("POST", "{s}/goals", {"title": "g", "status": "finished"}),
    ("POST", "{s}/comments", {"body": ""}),
    ("POST", "{s}/links", {"url": "javascript:alert(1)"}),
    ("POST", "{s}/members", {"user_id": "", "role": "owner"}),
    ("POST", "{s}/blockers/blk_x/resolve", {"time_lost_s": -1}),
    (
        "POST",
        "/v1/work/templates",
        {"spec": {"name": "t", "goals": [{"title": "a", "parent": -1}]}},
    ),
    ("POST", "/v1/work/templates", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_BODIES)
async def test_bad_bodies_are_refused_with_a_4xx(
    call: Call, method: str, path: str, body: Any
) -> None:
    """Each malformed body gets a 4xx error body (mostly 422), and the session is unchanged."""
    work = await new_session(call)
    target = path.replace("{s}", f"/v1/work/sessions/{work['id']}")
    response = await call(method, target, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert "code" in response.json()["error"]
    after = (await call("GET", f"/v1/work/sessions/{work['id']}")).json()
    assert (1, "Work") == (after["version"], after["name"])


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"sort": "owner"},
        {"status": "gone"},
        {"created_from": "yesterday"},
        {"q": "x" * 501},
        {"cursor": "%%%"},
    ],
)
async def test_bad_search_parameters_are_a_422(call: Call, params: dict[str, Any]) -> None:
    """Out-of-range, unknown or malformed search parameters are a 422."""
    response = await call("GET", "/v1/work/sessions", params=params)
    assert 422 == response.status_code, response.text


@pytest.mark.parametrize("actor", ["", " alice", "x" * 201])
async def test_unusable_actor_headers_are_a_401(call: Call, actor: str) -> None:
    """An empty, padded or over-long acting user is refused 401 actor_required."""
    response = await call("GET", "/v1/work/sessions", user=actor)
    assert (401, "actor_required") == (response.status_code, response.json()["error"]["code"])
