"""Where an adapter keeps messages: an Engine in-process, or a Sessionhub server over HTTP.

Both speak in the models of ``sessionhub.models`` and raise Sessionhub's errors, so an
adapter does not care which one it has.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from sessionhub.client import AsyncClient
from sessionhub.core.engine import Engine
from sessionhub.core.memory import MessageRecord
from sessionhub.errors import NotFound
from sessionhub.models import Message, MessageIn

PAGE = 500


class MessageStore(Protocol):
    """The few message operations adapters need."""

    async def append(self, session_id: str, messages: list[MessageIn]) -> None: ...

    async def last(self, session_id: str, limit: int | None) -> list[MessageRecord]:
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

    async def last(self, session_id: str, limit: int | None) -> list[MessageRecord]:
        if limit is not None and limit <= 0:
            return []
        try:
            return await self.engine.memory.records(self.app_id, session_id, limit)
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
    """Messages on a Sessionhub server, through the Python client with a secret key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        user_id: str | None = None,
        client: AsyncClient | None = None,
    ):
        self.client = client or AsyncClient(base_url, key=api_key)
        self.user_id = user_id

    async def append(self, session_id: str, messages: list[MessageIn]) -> None:
        for start in range(0, len(messages), 1000):
            body = {"messages": [m.model_dump() for m in messages[start : start + 1000]]}
            await self.client.add_messages(session_id, body, user_id=self.user_id)

    async def last(self, session_id: str, limit: int | None) -> list[MessageRecord]:
        if limit is not None and limit <= 0:
            return []
        return [_record(message) for message in await self._messages(session_id, limit)]

    async def _messages(self, session_id: str, limit: int | None) -> list[Message]:
        try:
            if limit is not None and limit <= PAGE:
                return (await self.client.list_messages(session_id, limit=limit)).items
            found: list[Message] = []
            cursor: str | None = None
            while True:
                page = await self.client.list_messages(
                    session_id, limit=PAGE, cursor=cursor, direction="forward"
                )
                found.extend(page.items)
                if page.next_cursor is None:
                    return found if limit is None else found[-limit:]
                cursor = page.next_cursor
        except NotFound:
            return []

    async def pop(self, session_id: str) -> Message | None:
        try:
            return await self.client.pop_message(session_id)
        except NotFound:
            return None

    async def clear(self, session_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self.client.clear_messages(session_id)

    async def aclose(self) -> None:
        await self.client.close()


def _record(message: Message) -> MessageRecord:
    created_at_ms = round(message.created_at.timestamp() * 1000)
    return MessageRecord(message.id, message.role, message.content, message.metadata, created_at_ms)
