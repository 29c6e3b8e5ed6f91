"""The OpenAI Agents SDK ``Session`` protocol, backed by Sessionhub.

    from agents import Agent, Runner
    from sessionhub.adapters.openai_agents import SessionhubSession

    session = SessionhubSession.in_process("chat-1", engine, app_id)      # or:
    session = SessionhubSession.over_http("chat-1", "http://localhost:8000", "sk_…")
    await Runner.run(agent, "What smartphones do you have?", session=session)

Items round-trip exactly. A plain ``{"role", "content": "text"}`` item is stored as a
readable message (so history, topics, budgets and share links see its text); any other
item (function calls, their outputs, structured assistant messages) is stored whole as
JSON in the message content, with the role ``assistant``/``user``/``system`` it has, or
``tool``. The session is created on the first ``add_items`` (kind ``conversation``) and
follows the app's history TTL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from sessionhub.adapters.store import EngineStore, HttpStore, MessageStore
from sessionhub.core.memory import MessageRecord
from sessionhub.models import Message, MessageIn

try:
    from agents.memory import SessionSettings
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "The OpenAI Agents adapter needs the openai-agents package: "
        "pip install 'sessionhub[agents]'"
    ) from exc

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

    from sessionhub.core.engine import Engine

# The Agents SDK's roles and ours; "developer" is OpenAI's newer name for "system".
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
ITEM_KEY = "openai_agents_item"
ROLE_KEY = "openai_agents_role"


def item_to_message(item: Any) -> MessageIn:
    """Turn an Agents SDK input item into a message that gives it back unchanged."""
    data = dict(item)
    role = data.get("role")
    text = data.get("content")
    if set(data) == {"role", "content"} and isinstance(text, str) and role in ROLES:
        ours = ROLES[role]
        metadata = {} if ours == role else {ROLE_KEY: role}
        return MessageIn(role=ours, content=text, metadata=metadata)  # type: ignore[arg-type]
    ours = ROLES.get(role, "tool") if isinstance(role, str) else "tool"
    return MessageIn(
        role=ours,  # type: ignore[arg-type]
        content=orjson.dumps(data).decode(),
        metadata={ITEM_KEY: True},
    )


def message_to_item(message: Message | MessageRecord) -> Any:
    """The Agents SDK item a stored message stands for."""
    metadata = message.metadata
    if not metadata:  # most messages: plain text in one of our roles
        return {"role": message.role, "content": message.content}
    if metadata.get(ITEM_KEY):
        return orjson.loads(message.content)
    return {"role": metadata.get(ROLE_KEY, message.role), "content": message.content}


class SessionhubSession:
    """A conversation of the OpenAI Agents SDK kept in a Sessionhub session."""

    def __init__(
        self,
        session_id: str,
        store: MessageStore,
        session_settings: SessionSettings | None = None,
    ):
        self.session_id = session_id
        self.session_settings = session_settings
        self._store = store

    @classmethod
    def in_process(
        cls, session_id: str, engine: Engine, app_id: str, *, user_id: str | None = None
    ) -> SessionhubSession:
        """A session on an Engine running in this process."""
        return cls(session_id, EngineStore(engine, app_id, user_id=user_id))

    @classmethod
    def over_http(
        cls, session_id: str, base_url: str, api_key: str, *, user_id: str | None = None
    ) -> SessionhubSession:
        """A session on a Sessionhub server, with one of its app's secret keys."""
        return cls(session_id, HttpStore(base_url, api_key, user_id=user_id))

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The history (the newest ``limit`` items when given), oldest first."""
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        messages = await self._store.last(self.session_id, limit)
        return [message_to_item(message) for message in messages]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append items in order (atomically per 1,000)."""
        if items:
            await self._store.append(self.session_id, [item_to_message(i) for i in items])

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the newest item (None when the history is empty)."""
        message = await self._store.pop(self.session_id)
        return message_to_item(message) if message is not None else None

    async def clear_session(self) -> None:
        """Remove every item of the session."""
        await self._store.clear(self.session_id)
