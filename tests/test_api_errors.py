"""Bad requests get a precise 4xx in the error shape, never a 500, and never write half a change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sessionhub import Engine
from tests.conftest import Keys, bearer


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error response, checking the shape on the way."""
    body = response.json()
    assert ["error"] == list(body)
    assert {"code", "message", "details"} == set(body["error"])
    error: dict[str, Any] = body["error"]
    return error


def locations(error: dict[str, Any]) -> list[list[Any]]:
    return [item["loc"] for item in error["details"]["errors"]]


async def session_count(api: httpx.AsyncClient, keys: Keys) -> int:
    listed = await api.get("/v1/sessions", headers=bearer(keys.secret))
    return len(listed.json()["items"])


# -- validation --------------------------------------------------------------------------------


async def test_an_unknown_field_is_a_422_naming_it(api: httpx.AsyncClient, keys: Keys) -> None:
    """A misspelt field is refused with 422 invalid_input whose details and message name it."""
    response = await api.post(
        "/v1/sessions", json={"user_idd": "u1"}, headers=bearer(keys.publishable)
    )
    assert 422 == response.status_code
    error = error_of(response)
    assert "invalid_input" == error["code"]
    assert [["body", "user_idd"]] == locations(error)
    assert "user_idd" in error["message"]


async def test_an_unknown_nested_field_is_a_422_naming_its_path(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """An unknown field inside app settings is named with its full path."""
    response = await api.patch(
        f"/v1/apps/{keys.app_id}",
        json={"settings": {"idle_timeout": 60}},
        headers=bearer(keys.admin),
    )
    assert 422 == response.status_code
    assert ["settings", "idle_timeout"] == locations(error_of(response))[0][-2:]


async def test_a_wrong_type_is_a_422_not_a_coercion(api: httpx.AsyncClient, keys: Keys) -> None:
    """A number where a string belongs (and a string where a number belongs) is refused, not converted."""
    as_number = await api.post("/v1/sessions", json={"user_id": 5}, headers=bearer(keys.secret))
    assert (422, [["body", "user_id"]]) == (as_number.status_code, locations(error_of(as_number)))
    as_string = await api.patch(
        f"/v1/apps/{keys.app_id}",
        json={"settings": {"idle_timeout_s": "60"}},
        headers=bearer(keys.admin),
    )
    assert 422 == as_string.status_code
    assert "idle_timeout_s" in locations(error_of(as_string))[0]


async def test_a_bad_query_parameter_is_a_422_naming_it(api: httpx.AsyncClient, keys: Keys) -> None:
    """A limit that is not a number, or out of range, is a 422 naming the limit."""
    for value in ["many", "0", "501"]:
        response = await api.get(
            "/v1/sessions", params={"limit": value}, headers=bearer(keys.secret)
        )
        assert (422, [["query", "limit"]]) == (
            response.status_code,
            locations(error_of(response)),
        )


async def test_a_body_that_is_not_an_object_is_a_422(api: httpx.AsyncClient, keys: Keys) -> None:
    """A JSON array where an object belongs is refused with 422."""
    response = await api.post("/v1/sessions", json=[1, 2], headers=bearer(keys.publishable))
    assert (422, "invalid_input") == (response.status_code, error_of(response)["code"])


@pytest.mark.parametrize("body", [b"{", b'{"user_id": }', b"\xff\xfe", b"{'a': 1}"])
async def test_malformed_json_is_a_400(api: httpx.AsyncClient, keys: Keys, body: bytes) -> None:
    """A body that is not JSON at all is 400 bad_request, and nothing is created."""
    response = await api.post(
        "/v1/sessions",
        content=body,
        headers={**bearer(keys.publishable), "Content-Type": "application/json"},
    )
    assert (400, "bad_request") == (response.status_code, error_of(response)["code"])
    assert 0 == await session_count(api, keys)


async def test_deeply_nested_metadata_is_refused_not_a_500(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Metadata nested deeper than the stores take is a 422 and nothing is created."""
    nested: dict[str, Any] = {}
    for _ in range(300):
        nested = {"a": nested}
    response = await api.post(
        "/v1/sessions", json={"metadata": nested}, headers=bearer(keys.publishable)
    )
    assert (422, "invalid_input") == (response.status_code, error_of(response)["code"])
    assert "nested" in error_of(response)["message"]
    assert 0 == await session_count(api, keys)


async def test_an_integer_over_64_bits_is_a_422_naming_it(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A number too large for a 64-bit integer in metadata is a 422 naming where, and nothing is created."""
    response = await api.post(
        "/v1/sessions", json={"metadata": {"n": 2**70}}, headers=bearer(keys.publishable)
    )
    assert (422, "invalid_input") == (response.status_code, error_of(response)["code"])
    assert "metadata.n" in error_of(response)["message"]
    assert 0 == await session_count(api, keys)


@pytest.mark.parametrize("where", ["user_id", "metadata"])
async def test_a_nul_character_in_a_body_is_a_422(
    api: httpx.AsyncClient, keys: Keys, where: str
) -> None:
    """A NUL character (which PostgreSQL text cannot hold) in a body is a 422 naming where, on every backend."""
    body: dict[str, Any] = (
        {"user_id": "a\x00b"} if where == "user_id" else {"metadata": {"k": ["ok", "a\x00b"]}}
    )
    response = await api.post("/v1/sessions", json=body, headers=bearer(keys.secret))
    error = error_of(response)
    assert (422, "invalid_input") == (response.status_code, error["code"])
    assert ("user_id" if where == "user_id" else "metadata.k.1") in error["message"]
    assert 0 == await session_count(api, keys)


async def test_a_nul_character_in_a_list_filter_is_a_422(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A NUL in a user id used as a list filter is a 422, not a server error."""
    response = await api.get("/v1/users/a%00b/sessions", headers=bearer(keys.secret))
    assert (422, "invalid_input") == (response.status_code, error_of(response)["code"])


async def test_a_nul_character_in_a_session_id_is_not_a_server_error(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A NUL in a session id is an answer about the input (no such session, or a 422), never a 5xx."""
    response = await api.get("/v1/sessions/a%00b", headers=bearer(keys.secret))
    assert response.status_code in {404, 422}
    assert error_of(response)["code"] in {"not_found", "invalid_input"}


async def test_json_nested_past_the_parsers_limit_is_a_400(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A body nested too deeply to parse is 400 bad_request, not a 500."""
    body = b'{"metadata": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
    response = await api.post(
        "/v1/sessions",
        content=body,
        headers={**bearer(keys.publishable), "Content-Type": "application/json"},
    )
    assert (400, "bad_request") == (response.status_code, error_of(response)["code"])


# -- body size ---------------------------------------------------------------------------------


async def test_a_declared_body_over_the_limit_is_a_413(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """A Content-Length over the limit is refused with 413 before the body is read."""
    limit = engine.settings.max_body_bytes
    body = b'{"metadata": {"pad": "' + b"x" * limit + b'"}}'
    response = await api.post(
        "/v1/sessions",
        content=body,
        headers={**bearer(keys.publishable), "Content-Type": "application/json"},
    )
    assert (413, "payload_too_large") == (response.status_code, error_of(response)["code"])
    assert limit == error_of(response)["details"]["limit"]
    assert 0 == await session_count(api, keys)


async def test_a_chunked_body_over_the_limit_is_a_413(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """A body streamed without Content-Length is cut off with 413 once it passes the limit."""
    limit = engine.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"metadata": {"pad": "'
        sent = 0
        while sent <= limit:
            yield b"x" * 65536
            sent += 65536
        yield b'"}}'

    response = await api.post(
        "/v1/sessions",
        content=chunks(),
        headers={**bearer(keys.publishable), "Content-Type": "application/json"},
    )
    assert (413, "payload_too_large") == (response.status_code, error_of(response)["code"])
    assert 0 == await session_count(api, keys)


async def test_metadata_over_its_own_limit_is_a_413_naming_the_field(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Metadata larger than 16 KB is refused with 413 naming metadata, and nothing is created."""
    response = await api.post(
        "/v1/sessions",
        json={"metadata": {"pad": "x" * 20_000}},
        headers=bearer(keys.publishable),
    )
    assert (413, "metadata") == (response.status_code, error_of(response)["details"]["field"])
    assert 0 == await session_count(api, keys)


async def test_a_patch_that_fails_leaves_the_session_as_it_was(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A PATCH refused for its metadata size changes neither the metadata nor the user id."""
    created = await api.post(
        "/v1/sessions", json={"metadata": {"a": 1}}, headers=bearer(keys.publishable)
    )
    path = f"/v1/sessions/{created.json()['id']}"
    refused = await api.patch(
        path,
        json={"user_id": "u2", "metadata": {"pad": "x" * 20_000}},
        headers=bearer(keys.secret),
    )
    assert 413 == refused.status_code
    got = (await api.get(path, headers=bearer(keys.secret))).json()
    assert ({"a": 1}, None) == (got["metadata"], got["user_id"])


async def test_a_refused_create_over_the_session_limit_writes_nothing(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """With the deny behaviour, the create over the limit is 409 session_limit_reached and leaves no session."""
    await engine.apps.update(keys.app_id, settings={"max_sessions_per_user": 1})
    first = await api.post("/v1/sessions", json={"user_id": "u1"}, headers=bearer(keys.secret))
    second = await api.post("/v1/sessions", json={"user_id": "u1"}, headers=bearer(keys.secret))
    assert (201, 409) == (first.status_code, second.status_code)
    assert "session_limit_reached" == error_of(second)["code"]
    assert 1 == await session_count(api, keys)


# -- routing -----------------------------------------------------------------------------------


async def test_an_unknown_route_is_a_404_in_the_error_shape(api: httpx.AsyncClient) -> None:
    """A path the API does not have answers 404 not_found with the usual error body."""
    response = await api.get("/v1/nothing-here")
    assert (404, "not_found") == (response.status_code, error_of(response)["code"])


async def test_a_wrong_method_is_a_405_in_the_error_shape(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A known path with a method it does not take answers 405 in the error shape."""
    response = await api.put("/v1/sessions", json={}, headers=bearer(keys.secret))
    assert (405, "method_not_allowed") == (response.status_code, error_of(response)["code"])


async def test_an_unknown_session_is_a_404_naming_it(api: httpx.AsyncClient, keys: Keys) -> None:
    """A session id that does not exist is 404 not_found with the id in the details."""
    response = await api.get("/v1/sessions/ses_nope", headers=bearer(keys.secret))
    error = error_of(response)
    assert (404, "not_found", "ses_nope") == (
        response.status_code,
        error["code"],
        error["details"]["session_id"],
    )


async def test_errors_are_json(api: httpx.AsyncClient) -> None:
    """Error responses say they are JSON."""
    response = await api.get("/v1/sessions")
    assert (401, "application/json") == (response.status_code, response.headers["content-type"])
