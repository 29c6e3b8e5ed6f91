"""The Python client: every operation generated from the API, over real HTTP and in-process."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

import sessionhub
from sessionhub import AsyncClient, Client
from sessionhub.client import Retry
from sessionhub.client._generate import TARGET, _format, api_routes, generate
from sessionhub.models import Page, Session
from sessionhub.models.events import Event
from tests.servers import Server, serve

NO_WAIT = Retry(attempts=3, backoff_s=0.001, max_backoff_s=0.01)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `sessionhub serve` process (SQLite) for the module's tests."""
    with serve(tmp_path_factory.mktemp("client") / "data", "client") as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, key=server.keys()["secret"]) as client:
        yield client


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_generated_endpoints_are_up_to_date() -> None:
    """_endpoints.py is what the generator writes for today's API: no operation is missing."""
    assert TARGET.read_text() == _format(generate(api_routes()))


def test_a_session_lifecycle_over_http_returns_the_server_models(client: Client) -> None:
    """Create, heartbeat, validate and end over TCP; each answer is the server's own model."""
    created = client.create_session({"user_id": "u1", "entry_page": "https://shop.test/a"})
    client.heartbeat_session(created.id)
    checked = client.validate_session(created.id)
    ended = client.end_session(created.id, {"reason": "logout"})
    assert (Session, True, "ended", "logout") == (
        type(created),
        checked.valid,
        ended.status,
        ended.end_reason,
    )


def test_errors_arrive_as_the_server_classes(client: Client) -> None:
    """A 404, a 409 session_ended and a 422 raise NotFound, SessionEnded and InvalidInput."""
    session = client.create_session({"user_id": "u2"})
    client.end_session(session.id)
    with pytest.raises(sessionhub.NotFound) as missing:
        client.get_session("ses_does_not_exist")
    with pytest.raises(sessionhub.SessionEnded) as ended:
        client.heartbeat_session(session.id)
    with pytest.raises(sessionhub.InvalidInput) as invalid:
        client.create_session({"kind": "party"})
    assert ("not_found", "session_ended", ["body", "kind"]) == (
        missing.value.code,
        ended.value.code,
        invalid.value.details["errors"][0]["loc"],
    )


def test_a_publishable_key_is_refused_what_only_a_secret_key_may_do(server: Server) -> None:
    """The same 403 as over raw HTTP, raised as sessionhub.Forbidden."""
    with (
        Client(server.url, key=server.keys()["publishable"]) as browser_key,
        pytest.raises(sessionhub.Forbidden),
    ):
        browser_key.list_sessions()


def test_events_sent_come_back_in_the_timeline(client: Client) -> None:
    """send_events then session_events: a typed page of the events sent."""
    session = client.create_session({"device_id": "d1"})
    result = client.send_events(
        {"events": [{"session_id": session.id, "type": "page_view", "path": p} for p in "abc"]}
    )
    timeline = client.session_events(session.id, limit=10)
    assert (3, Page[Event], ["a", "b", "c"]) == (
        result.accepted,
        type(timeline),
        [event.path for event in timeline.items],
    )


def test_conversation_memory_and_state_through_the_client(client: Client) -> None:
    """Messages, state and the query API work through their generated methods."""
    client.add_message("chat-1", {"role": "user", "content": "hello"}, user_id="u3")
    client.add_message("chat-1", {"role": "assistant", "content": "hi!"})
    client.put_session_state("chat-1", "step", {"value": 2})
    messages = client.list_messages("chat-1", limit=5)
    answer = client.query({"metrics": ["sessions"]})
    assert (["hello", "hi!"], 2, True) == (
        [m.content for m in messages.items],
        client.get_session_state("chat-1", "step").value,
        answer.totals["sessions"] >= 1,
    )


async def test_the_async_client_over_http(server: Server) -> None:
    """AsyncClient does the same over TCP, with the same models and errors."""
    async with AsyncClient(server.url, key=server.keys()["secret"]) as client:
        session = await client.create_session({"user_id": "u4"})
        await client.revoke_session(session.id)
        with pytest.raises(sessionhub.SessionEnded):
            await client.heartbeat_session(session.id)
        assert "revoked" == (await client.get_session(session.id)).end_reason


async def test_the_async_client_in_process_on_every_backend(
    sessionhub_client: AsyncClient,
) -> None:
    """Over ASGI to an in-process Engine the client behaves as over TCP (SQLite and PostgreSQL)."""
    session = await sessionhub_client.create_session({"user_id": "u5"})
    current = await sessionhub_client.current_session("u5")
    with pytest.raises(sessionhub.NotFound):
        await sessionhub_client.current_session("nobody")
    assert session.id == current.id


def _flaky(statuses: list[int], seen: list[str]) -> httpx.MockTransport:
    """A transport answering ``statuses`` in turn (then 200 {}), recording each request."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        status = statuses.pop(0) if statuses else 200
        headers = {"retry-after": "0"} if status == 429 else {}
        body = {"error": {"code": "x", "message": "m", "details": {}}} if status >= 400 else {}
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("method", "statuses", "expected_tries"),
    [
        ("GET", [503, 503], 3),
        ("POST", [503], 1),
        ("POST", [429], 2),
        ("DELETE", [502], 2),
    ],
    ids=["get-retried", "post-not-retried", "429-retried", "delete-retried"],
)
def test_retries_only_what_is_safe_to_send_twice(
    method: str, statuses: list[int], expected_tries: int
) -> None:
    """Idempotent calls and rate-limited ones are retried with backoff; a failed POST is not."""
    seen: list[str] = []
    client = Client("http://sessionhub.test", transport=_flaky(statuses, seen), retry=NO_WAIT)
    call = {
        "GET": lambda: client.get_app_state("k"),
        "DELETE": lambda: client.delete_app_state("k"),
        "POST": lambda: client.send_events({"events": []}),
    }[method]
    with contextlib.suppress(sessionhub.SessionhubError, ValidationError):
        call()
    assert expected_tries == len(seen)


def test_an_unreachable_server_is_a_storage_error_after_the_retries() -> None:
    """Connection refused: tried `attempts` times, then StorageError naming the call."""
    client = Client("http://127.0.0.1:9", retry=NO_WAIT, timeout=1)
    with pytest.raises(sessionhub.StorageError) as raised:
        client.get_app_state("k")
    assert "GET /v1/state/k" in raised.value.message


def test_the_event_sender_flushes_on_size_time_and_close(client: Client) -> None:
    """max_batch events go out at once, a lone event after max_wait_s, the rest on close; each keeps the time it was tracked."""
    session = client.create_session({"device_id": "d-sender"})

    def stored() -> int:
        return len(client.session_events(session.id, limit=100).items)

    by_size = client.event_sender(max_batch=5, max_wait_s=60)
    for i in range(5):
        by_size.track("action", session_id=session.id, properties={"i": i})
    assert _wait_for(lambda: stored() == 5)
    by_size.track("action", session_id=session.id)
    by_size.close()
    assert 6 == stored()
    by_time = client.event_sender(max_batch=100, max_wait_s=0.2)
    by_time.track("action", session_id=session.id)
    tracked_by = datetime.now(UTC)
    assert _wait_for(lambda: stored() == 7)
    by_time.close()
    # Stamped when tracked, not when sent (0.2 s later) or received.
    assert client.session_events(session.id, limit=100).items[-1].timestamp <= tracked_by


def test_the_event_sender_resends_a_failed_batch_without_duplicates(
    server: Server, tmp_path: Path
) -> None:
    """The first send fails after the server stored it; the resend is deduplicated by event id."""
    real = httpx.HTTPTransport()
    failures = [1]

    class LosesTheFirstAnswer(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = real.handle_request(request)
            if request.url.path == "/v1/events" and failures:
                failures.pop()
                response.read()
                return httpx.Response(503, json={"error": {"code": "storage_unavailable"}})
            return response

    key = server.keys()["secret"]
    with Client(server.url, key=key, transport=LosesTheFirstAnswer(), retry=NO_WAIT) as client:
        session = client.create_session({"device_id": "d-resend"})
        sender = client.event_sender(max_batch=100, max_wait_s=60)
        for _ in range(3):
            sender.track("action", session_id=session.id)
        first = sender.flush()
        second = sender.flush()
        sender.close()
        timeline = client.session_events(session.id, limit=100)
    assert (None, 0, 3, 3) == (first, second.accepted, second.duplicates, len(timeline.items))
