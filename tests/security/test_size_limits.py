"""Size limits on bodies, fields, batch lengths and nesting: each a clear 413 or 422 naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from sessionhub import Engine
from sessionhub.models import SessionCreate
from tests.conftest import Keys, bearer


def nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` levels deep."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def field_of(error: dict[str, Any]) -> str:
    """Where the error says the problem is: the field in details, or the first error's location."""
    details = error["details"]
    if "field" in details:
        return str(details["field"])
    if "errors" in details:
        return ".".join(str(part) for part in details["errors"][0]["loc"])
    if "rejected" in details:  # an event batch: the first rejected event says where
        rejected = details["rejected"][0]
        if "field" in rejected["details"]:
            return f"events.{rejected['index']}.{rejected['details']['field']}"
        return ".".join(str(part) for part in rejected["details"]["errors"][0]["loc"])
    return ""


Body = Callable[[str], Any]

# (method, path with {sid}, body of the session id, status, code, where the error points)
CASES: list[tuple[str, str, Body, int, str, str]] = [
    (
        "POST",
        "/v1/sessions",
        lambda sid: {"metadata": {"blob": "x" * 20_000}},
        413,
        "payload_too_large",
        "metadata",
    ),
    (
        "PATCH",
        "/v1/sessions/{sid}",
        lambda sid: {"metadata": {"blob": "x" * 20_000}},
        413,
        "payload_too_large",
        "metadata",
    ),
    (
        "POST",
        "/v1/sessions",
        lambda sid: {"metadata": nested(150)},
        422,
        "invalid_input",
        "body",
    ),
    (
        "POST",
        "/v1/sessions",
        lambda sid: {"metadata": {"n": 2**70}},
        422,
        "invalid_input",
        "body",
    ),
    (
        "POST",
        "/v1/sessions",
        lambda sid: {"user_id": "u" * 201},
        422,
        "invalid_input",
        "body.user_id",
    ),
    (
        "POST",
        "/v1/sessions",
        lambda sid: {"entry_page": "https://a.example/" + "p" * 3000},
        422,
        "invalid_input",
        "body.entry_page",
    ),
    (
        "POST",
        "/v1/events",
        lambda sid: {"events": [{"session_id": sid, "type": "action"}] * 501},
        422,
        "invalid_input",
        "body.events",
    ),
    (
        "POST",
        "/v1/sessions/{sid}/events",
        lambda sid: {"events": [{"type": "action", "properties": {"blob": "x" * 9000}}]},
        413,
        "payload_too_large",
        "events.0.properties",
    ),
    (
        "POST",
        "/v1/sessions/{sid}/events",
        lambda sid: {"events": [{"type": "action", "properties": nested(9)}]},
        422,
        "invalid_input",
        "events.0.properties",
    ),
    (
        "POST",
        "/v1/sessions/{sid}/events",
        lambda sid: {"events": [{"type": "x" * 101}]},
        422,
        "invalid_input",
        "events.0.type",
    ),
    (
        "POST",
        "/v1/sessions/{sid}/messages/batch",
        lambda sid: {"messages": [{"role": "user", "content": "hi"}] * 1001},
        422,
        "invalid_input",
        "body.messages",
    ),
    (
        "POST",
        "/v1/sessions/{sid}/messages",
        lambda sid: {"role": "user", "content": "x" * 200_001},
        422,
        "invalid_input",
        "body.content",
    ),
    (
        "POST",
        "/v1/sessions/{sid}/messages",
        lambda sid: {"role": "user", "content": "hi", "metadata": {"blob": "x" * 20_000}},
        413,
        "payload_too_large",
        "messages.0.metadata",  # one message is checked as a batch of one
    ),
    (
        "PUT",
        "/v1/sessions/{sid}/state/big",
        lambda sid: {"value": "x" * 70_000},
        413,
        "payload_too_large",
        "value",
    ),
    (
        "PUT",
        "/v1/sessions/{sid}/preferences",
        lambda sid: {f"k{i}": "x" * 1000 for i in range(70)},
        413,
        "payload_too_large",
        "preferences",
    ),
    (
        "POST",
        "/v1/query",
        lambda sid: {
            "metrics": ["sessions"],
            "filters": [{"dimension": "country", "op": "eq", "value": "DE"}] * 51,
        },
        422,
        "invalid_input",
        "body.filters",
    ),
]


@pytest.fixture
async def session_id(engine: Engine, keys: Keys) -> str:
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate(device_id="d1"))
    return session.id


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "where"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[5]}" for c in CASES],
)
async def test_each_limit_is_a_clear_error_naming_its_field(
    api: httpx.AsyncClient,
    keys: Keys,
    session_id: str,
    method: str,
    path: str,
    body: Body,
    status: int,
    code: str,
    where: str,
) -> None:
    """Over a size, length or depth limit the API answers 413 or 422 with the field in details."""
    response = await api.request(
        method, path.format(sid=session_id), json=body(session_id), headers=bearer(keys.secret)
    )
    assert status == response.status_code, response.text
    error = response.json()["error"]
    assert (code, where) == (error["code"], field_of(error))


async def test_a_body_over_the_limit_is_413_before_it_is_read(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A declared Content-Length over max_body_bytes is refused 413 naming the body and the limit."""
    response = await api.post(
        "/v1/sessions",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers=bearer(keys.secret) | {"Content-Type": "application/json"},
    )
    assert 413 == response.status_code
    assert {"field": "body", "limit": 1_048_576} == response.json()["error"]["details"]


async def test_a_streamed_body_is_cut_off_at_the_limit(api: httpx.AsyncClient, keys: Keys) -> None:
    """A chunked body with no length is counted as it arrives and refused 413 once past the limit."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"metadata": {"x": "'
        for _ in range(20):
            yield b"y" * 65_536
        yield b'"}}'

    response = await api.post(
        "/v1/sessions",
        content=chunks(),
        headers=bearer(keys.secret) | {"Content-Type": "application/json"},
    )
    assert (413, "body") == (response.status_code, response.json()["error"]["details"]["field"])


@pytest.mark.parametrize(
    ("path", "params", "where"),
    [
        ("/v1/sessions/" + "s" * 201, None, "path.session_id"),
        ("/v1/sessions", {"limit": 501}, "query.limit"),
        ("/v1/sessions", {"user_id": "u" * 201}, "query.user_id"),
        ("/v1/sessions", {"cursor": "c" * 201}, "query.cursor"),
    ],
)
async def test_path_and_query_values_are_bounded(
    api: httpx.AsyncClient, keys: Keys, path: str, params: dict[str, Any] | None, where: str
) -> None:
    """Over-long ids, cursors and page sizes in the URL are 422 naming the parameter."""
    response = await api.get(path, params=params, headers=bearer(keys.secret))
    assert (422, where) == (response.status_code, field_of(response.json()["error"]))
