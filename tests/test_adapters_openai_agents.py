"""The OpenAI Agents SDK adapter against the real ``openai-agents`` package, in-process and over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sessionhub import AsyncClient, Engine
from sessionhub.adapters.store import HttpStore
from tests.conftest import Keys

agents = pytest.importorskip("agents", reason="pip install 'sessionhub[agents]'")

from agents import Agent, Model, ModelResponse, Runner, Usage, set_tracing_disabled  # noqa: E402
from agents.memory import Session, SessionSettings  # noqa: E402
from openai.types.responses import ResponseOutputMessage, ResponseOutputText  # noqa: E402

from sessionhub.adapters.openai_agents import SessionhubSession  # noqa: E402

set_tracing_disabled(True)


class EchoModel(Model):
    """An offline model that answers how many input items it was given."""

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        seen = len(input) if isinstance(input, list) else 1
        text = ResponseOutputText(type="output_text", text=f"seen {seen} items", annotations=[])
        message = ResponseOutputMessage(
            id="msg_echo", type="message", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the tests do not stream")


ITEMS: list[Any] = [
    {"role": "developer", "content": "You are a shopping assistant."},
    {"role": "user", "content": "What smartphones do you have?"},
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "search",
        "arguments": '{"q": "smartphone"}',
    },
    {"type": "function_call_output", "call_id": "call_1", "output": '["Pixel", "iPhone"]'},
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Pixel and iPhone.", "annotations": []}],
    },
]


@pytest.fixture(params=["in_process", "http"])
async def session(
    request: pytest.FixtureRequest, engine: Engine, keys: Keys, sessionhub_client: AsyncClient
) -> AsyncIterator[SessionhubSession]:
    """The adapter on the in-process engine, or on the API over HTTP."""
    if request.param == "in_process":
        yield SessionhubSession.in_process("agent-chat", engine, keys.app_id, user_id="u1")
    else:
        store = HttpStore("http://testserver", keys.secret, user_id="u1", client=sessionhub_client)
        yield SessionhubSession("agent-chat", store)


def test_implements_the_session_protocol(engine: Engine) -> None:
    """The adapter is an Agents SDK ``Session`` by the SDK's own runtime check."""
    assert isinstance(SessionhubSession.in_process("x", engine, "app"), Session)


async def test_items_round_trip_exactly(session: SessionhubSession) -> None:
    """Every kind of item comes back exactly as it was added, in order."""
    await session.add_items(ITEMS[:2])
    await session.add_items(ITEMS[2:])
    assert ITEMS == await session.get_items()


async def test_limit_returns_newest_in_order(session: SessionhubSession) -> None:
    """get_items(limit) returns the newest items in chronological order."""
    await session.add_items(ITEMS)
    assert ITEMS[-2:] == await session.get_items(limit=2)


async def test_session_settings_limit_applies(session: SessionhubSession) -> None:
    """The session's SessionSettings limit applies when get_items is called without one."""
    await session.add_items(ITEMS)
    session.session_settings = SessionSettings(limit=1)
    assert ITEMS[-1:] == await session.get_items()


async def test_pop_and_clear(session: SessionhubSession) -> None:
    """pop_item returns the newest item and removes it; clear_session empties the history."""
    await session.add_items(ITEMS)
    assert ITEMS[-1] == await session.pop_item()
    assert ITEMS[:-1] == await session.get_items()
    await session.clear_session()
    assert ([], None) == (await session.get_items(), await session.pop_item())


async def test_unknown_session_reads_empty(session: SessionhubSession) -> None:
    """A session that was never written reads as empty, as the SDK expects."""
    assert ([], None) == (await session.get_items(), await session.pop_item())


async def test_text_items_are_readable_messages(
    session: SessionhubSession, engine: Engine, keys: Keys
) -> None:
    """Plain text items are stored as readable messages, owned by the given user."""
    await session.add_items(ITEMS[:2])
    page = await engine.memory.last(keys.app_id, "agent-chat")
    conversations = await engine.memory.conversations(keys.app_id, "u1")
    assert [("system", "You are a shopping assistant."), ("user", ITEMS[1]["content"])] == [
        (m.role, m.content) for m in page.items
    ]
    assert ["agent-chat"] == [c.session_id for c in conversations.items]


async def test_runner_uses_the_session(engine: Engine, keys: Keys) -> None:
    """A real Agents SDK Runner run reads and writes its history through the adapter."""
    session = SessionhubSession.in_process("runner-chat", engine, keys.app_id)
    agent = Agent(name="shop", instructions="Be brief.", model=EchoModel())
    await Runner.run(agent, "first question", session=session)
    result = await Runner.run(agent, "second question", session=session)
    history = await session.get_items()
    assert "seen 3 items" == result.final_output
    assert 4 == len(history)
