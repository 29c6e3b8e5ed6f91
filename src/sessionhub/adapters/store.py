"""Where an adapter keeps messages: an Engine in-process, or a Sessionhub server over HTTP.

Both speak in the models of ``sessionhub.models`` and raise Sessionhub's errors, so an
adapter does not care which one it has.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import httpx

from sessionhub.core.engine import Engine
from sessionhub.errors import NotFound, error_class_for
from sessionhub.models import Message, MessageIn, Messages

PAGE = 500


class MessageStore(Protocol):
    """The few message operations adapters need."""

    async def append(self, session_id: str, messages: list[MessageIn]) -> None: ...

    async def last(self, session_id: str, limit: int | None) -> list[Message]:
        """The newest ``limit`` messages (all when None), oldest first; [] for no session."""
        ...

    async def pop(self, session_id: str) -> Message | None: ...

    async def clear(self, session_id: str) -> None: ...


class EngineStore:
    """Messages of one app on an in-process Engine."""

    def __init__(self, engine: Engine, app_id: str, *, user_id: str | None = None):
        self.engine = engine
        self.app_id = app_id
        self.user_id = user_id

    async def append(self, session_id: str, messages: list[MessageIn]) -> None:
        memory = self.engine.memory
        for start in range(0, len(messages), 1000):
            chunk = messages[start : start + 1000]
            await memory.append(self.app_id, session_id, chunk, create=True, user_id=self.user_id)

    async def last(self, session_id: str, limit: int | None) -> list[Message]:
        try:
            if limit is None or limit > PAGE:
                found = await self.engine.memory.history(self.app_id, session_id)
                return found if limit is None else found[-limit:]
            if limit <= 0:
                return []
            return (await self.engine.memory.page(self.app_id, session_id, limit=limit)).items
        except NotFound:
            return []

    async def pop(self, session_id: str) -> Message | None:
        try:
            return await self.engine.memory.pop(self.app_id, session_id)
        except NotFound:
            return None

    async def clear(self, session_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self.engine.memory.clear(self.app_id, session_id)


class HttpStore:
    """Messages on a Sessionhub server, through its HTTP API with a secret key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        user_id: str | None = None,
        client: httpx.AsyncClient | None = None,
    ):
        self.client = client or httpx.AsyncClient(base_url=base_url)
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.base = base_url.rstrip("/")
        self.user_id = user_id

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(
            method, f"{self.base}/v1{path}", headers=self.headers, **kwargs
        )
        if response.status_code >= 400:
            error = response.json().get("error", {})
            cls = error_class_for(error.get("code", ""), response.status_code)
            raise cls(error.get("message", response.text), details=error.get("details"))
        return response.json()

    async def append(self, session_id: str, messages: list[MessageIn]) -> None:
        params = {"user_id": self.user_id} if self.user_id else {}
        for start in range(0, len(messages), 1000):
            body = {"messages": [m.model_dump() for m in messages[start : start + 1000]]}
            await self._call(
                "POST", f"/sessions/{session_id}/messages/batch", json=body, params=params
            )

    async def last(self, session_id: str, limit: int | None) -> list[Message]:
        if limit is not None and limit <= 0:
            return []
        try:
            if limit is not None and limit <= PAGE:
                page = await self._call(
                    "GET", f"/sessions/{session_id}/messages", params={"limit": limit}
                )
                return Messages.model_validate(page).items
            found: list[Message] = []
            params: dict[str, Any] = {"limit": PAGE, "direction": "forward"}
            while True:
                page = Messages.model_validate(
                    await self._call("GET", f"/sessions/{session_id}/messages", params=params)
                )
                found.extend(page.items)
                if page.next_cursor is None:
                    return found if limit is None else found[-limit:]
                params = {"limit": PAGE, "cursor": page.next_cursor}
        except NotFound:
            return []

    async def pop(self, session_id: str) -> Message | None:
        try:
            return Message.model_validate(
                await self._call("DELETE", f"/sessions/{session_id}/messages/last")
            )
        except NotFound:
            return None

    async def clear(self, session_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self._call("DELETE", f"/sessions/{session_id}/messages")

    async def aclose(self) -> None:
        await self.client.aclose()
