"""Live updates: the bus in one process, its fan-out through Redis, and the SSE streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from sessionhub import Engine
from sessionhub.api import create_app
from sessionhub.core.live import LiveBus
from tests.conftest import Keys
from tests.servers import free_port
from tests.work.conftest import as_user


async def test_the_bus_delivers_to_the_topics_listeners_only() -> None:
    """An event reaches every listener of its topic, and no listener of another topic."""
    bus = LiveBus()
    async with (
        bus.subscribe("a") as first,
        bus.subscribe("a") as second,
        bus.subscribe("b") as other,
    ):
        await bus.publish("a", {"type": "x"})
        assert ({"type": "x"}, {"type": "x"}, True) == (
            first.get_nowait(),
            second.get_nowait(),
            other.empty(),
        )
    assert not bus.listening("a")


async def test_two_buses_on_one_redis_share_events(redis_url: str) -> None:
    """A publish on one process's bus arrives at a listener of another process's bus (Redis pub/sub)."""
    publisher, listener = LiveBus(redis_url), LiveBus(redis_url)
    try:
        async with listener.subscribe("work:app:s1") as queue:
            await publisher.publish("work:app:s1", {"type": "status", "n": 1})
            await publisher.publish("work:app:other", {"type": "status", "n": 2})
            got = await asyncio.wait_for(queue.get(), 5)
            assert {"type": "status", "n": 1} == got
            await asyncio.sleep(0.2)  # the other topic's event, had it leaked, would be here now
            assert queue.empty()
    finally:
        await publisher.close()
        await listener.close()


@pytest.fixture
async def served(engine: Engine) -> AsyncIterator[str]:
    """The API served by uvicorn on a free local port, in this event loop."""
    port = free_port()
    app = create_app(engine, run_worker=False, manage_engine=False)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def _next_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, Any]]:
    """The next SSE event (name, JSON data) from a stream's lines, skipping pings."""
    name, data = "", ""
    async for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
        elif line == "" and name:
            return name, orjson.loads(data)
    raise AssertionError("the stream ended")


async def test_the_session_stream_carries_status_progress_and_comments(
    served: str, keys: Keys
) -> None:
    """Over real HTTP, a watcher of a session sees the owner's transition, a goal's progress and a comment as they happen."""
    alice = as_user(keys, "alice")
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        work = (await client.post("/v1/work/sessions", json={"name": "Live"}, headers=alice)).json()
        await client.post(
            f"/v1/work/sessions/{work['id']}/members",
            json={"user_id": "bob", "role": "viewer"},
            headers=alice,
        )
        path = f"/v1/work/sessions/{work['id']}/live"
        async with client.stream("GET", path, headers=as_user(keys, "bob")) as stream:
            assert "text/event-stream" in stream.headers["content-type"]
            lines = stream.aiter_lines()
            assert "ready" == (await _next_event(lines))[0]
            await client.post(
                f"/v1/work/sessions/{work['id']}/transition", json={"to": "active"}, headers=alice
            )
            name, event = await asyncio.wait_for(_next_event(lines), 5)
            assert ("status", "active") == (name, event["data"]["status"])
            await client.post(
                f"/v1/work/sessions/{work['id']}/goals",
                json={"title": "g", "status": "done"},
                headers=alice,
            )
            seen = [await asyncio.wait_for(_next_event(lines), 5) for _ in range(2)]
            assert [("goal", "g"), ("progress", 100.0)] == [
                (n, e["data"].get("title", e["data"].get("percent_done"))) for n, e in seen
            ]
            await client.post(
                f"/v1/work/sessions/{work['id']}/comments", json={"body": "hi"}, headers=alice
            )
            name, event = await asyncio.wait_for(_next_event(lines), 5)
            assert ("comment", "hi") == (name, event["data"]["body"])


async def test_the_user_stream_follows_every_session_of_the_user(served: str, keys: Keys) -> None:
    """A user's stream gets events of each session they are a member of; another user may not open it."""
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        refused = await client.get("/v1/work/users/bob/live", headers=as_user(keys, "alice"))
        assert (403, "not_this_user") == (refused.status_code, refused.json()["error"]["code"])
        work = (
            await client.post(
                "/v1/work/sessions", json={"name": "Mine"}, headers=as_user(keys, "bob")
            )
        ).json()
        async with client.stream(
            "GET", "/v1/work/users/bob/live", headers=as_user(keys, "bob")
        ) as stream:
            lines = stream.aiter_lines()
            assert "ready" == (await _next_event(lines))[0]
            await client.post(
                f"/v1/work/sessions/{work['id']}/transition",
                json={"to": "cancelled"},
                headers=as_user(keys, "bob"),
            )
            name, event = await asyncio.wait_for(_next_event(lines), 5)
            assert ("status", work["id"], "cancelled") == (
                name,
                event["session_id"],
                event["data"]["status"],
            )


async def test_a_stream_with_max_s_ends_by_itself(api: httpx.AsyncClient, keys: Keys) -> None:
    """max_s=0 sends the ready event and closes: usable in-process over ASGI too."""
    response = await api.get(
        "/v1/work/users/alice/live", params={"max_s": 0}, headers=as_user(keys, "alice")
    )
    assert (200, "event: ready") == (response.status_code, response.text.splitlines()[0])


async def test_a_stranger_can_not_watch_a_session(api: httpx.AsyncClient, keys: Keys) -> None:
    """Only members open a session's stream: anyone else gets 403 before any event."""
    created = await api.post(
        "/v1/work/sessions", json={"name": "x"}, headers=as_user(keys, "alice")
    )
    response = await api.get(
        f"/v1/work/sessions/{created.json()['id']}/live", headers=as_user(keys, "mallory")
    )
    assert 403 == response.status_code
