"""Helpers of the personalization tests: an app, events sent the way a tracker sends them."""

from __future__ import annotations

from typing import Any

from sessionhub import Engine

DAY_MS = 86_400_000


async def new_app(engine: Engine, name: str = "shop") -> str:
    return (await engine.apps.create(name)).id


def view(
    item: str | None = None, category: str | None = None, *, type: str = "page_view", **more: Any
) -> dict[str, Any]:
    """An event naming an item (product_id) and its category."""
    props: dict[str, Any] = dict(more.pop("properties", {}))
    if item is not None:
        props["product_id"] = item
    if category is not None:
        props["category"] = category
    return {"type": type, "properties": props, **more}


async def send(
    engine: Engine,
    app_id: str,
    events: list[dict[str, Any]],
    *,
    user_id: str | None = None,
    device_id: str | None = None,
    session_id: str | None = None,
) -> list[str]:
    """Ingest events as one batch (sessionized by user/device unless a session is given)."""
    batch = [
        {
            **e,
            **({"user_id": user_id} if user_id and not session_id else {}),
            **({"device_id": device_id} if device_id and not session_id else {}),
        }
        for e in events
    ]
    result = await engine.events.ingest(app_id, batch, session_id=session_id)
    assert [] == result.rejected, result.rejected
    return result.sessions
