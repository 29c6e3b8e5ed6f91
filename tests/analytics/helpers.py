"""Sending events the way a tracker does, one at a time, with the fake clock moving."""

from __future__ import annotations

from typing import Any

from sessionhub import Engine, FakeClock


async def send(
    engine: Engine,
    clock: FakeClock,
    app_id: str,
    device: str,
    kind: str,
    *,
    path: str | None = None,
    after: float = 0,
    user: str | None = None,
    properties: dict[str, Any] | None = None,
) -> str:
    """Advance the clock by ``after`` seconds, send one event, return its session id."""
    clock.advance(after)
    event: dict[str, Any] = {"device_id": device, "type": kind, "properties": properties or {}}
    if path is not None:
        event["url"] = "https://shop.example" + path
    if user is not None:
        event["user_id"] = user
    result = await engine.events.ingest(app_id, [event])
    assert (1, []) == (result.accepted, result.rejected)
    return result.sessions[0]


async def pages(
    engine: Engine, clock: FakeClock, app_id: str, device: str, paths: list[str], gap: float = 10
) -> str:
    """One page view per path, ``gap`` seconds apart; the session id."""
    session = ""
    for i, path in enumerate(paths):
        session = await send(
            engine, clock, app_id, device, "page_view", path=path, after=gap if i else 0
        )
    return session
