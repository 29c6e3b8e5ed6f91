"""The Google ADK adapter against the real ``google-adk`` package, in-process and over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.adk.agents import LlmAgent
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events import Event, EventActions
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.adk.sessions import BaseSessionService
from google.adk.sessions import Session as AdkSession
from google.adk.sessions.base_session_service import GetSessionConfig
from google.genai import types

from sessionhub import AsyncClient, Engine
from sessionhub.adapters.google_adk import (
    SessionhubSessionService,
    StaleSessionError,
    get_marker,
    set_marker,
)
from sessionhub.models import MessageIn
from tests.conftest import Keys

APP = "shop"


@pytest.fixture(params=["in_process", "http"])
async def service(
    request: pytest.FixtureRequest, engine: Engine, keys: Keys, sessionhub_client: AsyncClient
) -> AsyncIterator[SessionhubSessionService]:
    """The service on the in-process engine, or on the API over HTTP."""
    if request.param == "in_process":
        yield SessionhubSessionService.in_process(engine, keys.app_id)
    else:
        yield SessionhubSessionService.over_http(
            "http://testserver", keys.secret, client=sessionhub_client
        )


def text_event(text: str, author: str = "user", **kwargs: Any) -> Event:
    role = "user" if author == "user" else "model"
    content = types.Content(role=role, parts=[types.Part(text=text)])
    return Event(author=author, invocation_id="inv-1", content=content, **kwargs)


def call_event() -> Event:
    call = types.FunctionCall(id="call-1", name="search", args={"q": "phone"})
    content = types.Content(role="model", parts=[types.Part(function_call=call)])
    return Event(author="shop", invocation_id="inv-1", content=content)


class EchoLlm(BaseLlm):
    """An offline model that answers how many contents it was given."""

    async def generate_content_async(
        self, llm_request: Any, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        text = f"seen {len(llm_request.contents)}"
        yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text=text)]))


def test_is_a_session_service(engine: Engine) -> None:
    """The adapter is an ADK BaseSessionService."""
    assert isinstance(SessionhubSessionService.in_process(engine, "app"), BaseSessionService)


async def test_create_and_get_keep_state_by_prefix(service: SessionhubSessionService) -> None:
    """Initial state lands in its scope by prefix; temp: state is never stored."""
    state = {"mood": "curious", "user:budget": 600, "app:currency": "EUR", "temp:x": 1}
    created = await service.create_session(
        app_name=APP, user_id="u1", state=state, session_id="chat-1"
    )
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    expected = {"mood": "curious", "user:budget": 600, "app:currency": "EUR"}
    assert found is not None
    assert (expected, expected, []) == (created.state, found.state, found.events)
    assert ("chat-1", APP, "u1") == (found.id, found.app_name, found.user_id)


async def test_generated_id_and_taken_id(service: SessionhubSessionService) -> None:
    """Without an id one is generated; an id already taken is AlreadyExistsError."""
    created = await service.create_session(app_name=APP, user_id="u1")
    with pytest.raises(AlreadyExistsError):
        await service.create_session(app_name=APP, user_id="u1", session_id=created.id)
    assert created.id.startswith("ses_")


async def test_events_round_trip_in_order(service: SessionhubSessionService) -> None:
    """Appended events come back equal and in order, text and function calls alike."""
    session = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    events = [text_event("Which phones?"), call_event(), text_event("The Pixel.", author="shop")]
    for event in events:
        await service.append_event(session, event)
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    assert (events, events) == (found.events, session.events)


async def test_retried_event_is_stored_once(service: SessionhubSessionService) -> None:
    """Appending the same event twice (a retry) stores it once."""
    session = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    event = text_event("hello")
    await service.append_event(session, event)
    await service.append_event(session, event)
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    assert [event] == found.events


async def test_text_events_are_readable_messages(
    service: SessionhubSessionService, engine: Engine, keys: Keys
) -> None:
    """A text event is stored as a message whose content is its text, with its role."""
    session = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    await service.append_event(session, text_event("Which phones?"))
    await service.append_event(session, text_event("The Pixel.", author="shop"))
    page = await engine.memory.last(keys.app_id, "chat-1")
    assert [("user", "Which phones?"), ("assistant", "The Pixel.")] == [
        (m.role, m.content) for m in page.items
    ]


async def test_num_recent_events(service: SessionhubSessionService) -> None:
    """num_recent_events returns the newest events in order; 0 returns none."""
    session = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    events = [text_event(f"turn {i}") for i in range(5)]
    for event in events:
        await service.append_event(session, event)
    got = {
        n: await service.get_session(
            app_name=APP,
            user_id="u1",
            session_id="chat-1",
            config=GetSessionConfig(num_recent_events=n),
        )
        for n in (0, 2, 600)
    }
    assert {0: [], 2: events[-2:], 600: events} == {
        n: s.events for n, s in got.items() if s is not None
    }


async def test_after_timestamp(service: SessionhubSessionService) -> None:
    """after_timestamp returns the events from that time on, alone or with num_recent_events."""
    session = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    events = [text_event(f"turn {i}", timestamp=1000.0 + i) for i in range(250)]
    for event in events:
        await service.append_event(session, event)

    async def read(config: GetSessionConfig) -> list[Event]:
        found = await service.get_session(
            app_name=APP, user_id="u1", session_id="chat-1", config=config
        )
        assert found is not None
        return list(found.events)

    assert events[10:] == await read(GetSessionConfig(after_timestamp=1010.0))
    assert events[-3:] == await read(GetSessionConfig(after_timestamp=1010.0, num_recent_events=3))


async def test_state_deltas_by_scope(service: SessionhubSessionService) -> None:
    """An event's state delta is stored by scope: user state follows the user to another
    session, app state reaches other users, temp state stays in memory only."""
    session = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    delta = {"step": 2, "user:brand": "Pixel", "app:promo": "spring", "temp:scratch": "x"}
    event = text_event("ok", author="shop", actions=EventActions(state_delta=dict(delta)))
    await service.append_event(session, event)
    again = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    other = await service.create_session(app_name=APP, user_id="u1", session_id="chat-2")
    stranger = await service.create_session(app_name=APP, user_id="u2", session_id="chat-3")
    elsewhere = await service.create_session(app_name="other", user_id="u1", session_id="chat-4")
    assert again is not None
    assert {**delta} == session.state
    assert {"step": 2, "user:brand": "Pixel", "app:promo": "spring"} == again.state
    assert {"user:brand": "Pixel", "app:promo": "spring"} == other.state
    assert ({"app:promo": "spring"}, {}) == (stranger.state, elsewhere.state)
    assert {"brand": "Pixel"} == await service.get_user_state(app_name=APP, user_id="u1")


async def test_list_sessions_all_and_paged(service: SessionhubSessionService) -> None:
    """list_sessions gives the app's sessions (of a user); pages cover each exactly once."""
    for i in range(5):
        await service.create_session(app_name=APP, user_id="u1", session_id=f"s{i}")
    await service.create_session(app_name=APP, user_id="u2", session_id="theirs")
    await service.create_session(app_name="other", user_id="u1", session_id="elsewhere")
    everyone = await service.list_sessions(app_name=APP)
    paged: list[str] = []
    token = None
    while True:
        page = await service.list_sessions(
            app_name=APP, user_id="u1", page_size=2, page_token=token
        )
        paged.extend(s.id for s in page.sessions)
        token = page.next_page_token
        if token is None:
            break
    assert {"s0", "s1", "s2", "s3", "s4", "theirs"} == {s.id for s in everyone.sessions}
    assert ["s4", "s3", "s2", "s1", "s0"] == paged


async def test_delete_session(service: SessionhubSessionService) -> None:
    """A deleted session reads as None; another user cannot delete it."""
    await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    await service.delete_session(app_name=APP, user_id="u2", session_id="chat-1")
    kept = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    await service.delete_session(app_name=APP, user_id="u1", session_id="chat-1")
    gone = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert ("chat-1", None) == (kept.id if kept else None, gone)


async def test_other_users_session_reads_as_none(service: SessionhubSessionService) -> None:
    """A session is found only with its own app name and user id."""
    await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert (None, None) == (
        await service.get_session(app_name=APP, user_id="u2", session_id="chat-1"),
        await service.get_session(app_name="other", user_id="u1", session_id="chat-1"),
    )


async def test_append_to_missing_session_fails(service: SessionhubSessionService) -> None:
    """Appending to a deleted session raises SessionNotFoundError and creates nothing."""
    session = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    await service.delete_session(app_name=APP, user_id="u1", session_id="chat-1")
    with pytest.raises(SessionNotFoundError):
        await service.append_event(session, text_event("hello?"))
    assert None is await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")


async def test_runner_uses_the_service(service: SessionhubSessionService) -> None:
    """A real ADK Runner reads and writes its session through the adapter."""
    agent = LlmAgent(name="shop", model=EchoLlm(model="echo"), instruction="Be brief.")
    runner = Runner(agent=agent, app_name=APP, session_service=service)
    await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    replies = []
    for question in ("first question", "second question"):
        message = types.Content(role="user", parts=[types.Part(text=question)])
        async for event in runner.run_async(user_id="u1", session_id="chat-1", new_message=message):
            if event.content and event.content.parts and event.content.parts[0].text:
                replies.append(event.content.parts[0].text)
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    assert (["seen 1", "seen 3"], 4) == (replies, len(found.events))


def test_example_runs_offline(tmp_path: Path) -> None:
    """examples/google_adk_session.py runs to the end without a model key."""
    example = Path(__file__).parents[2] / "examples" / "google_adk_session.py"
    env = {k: v for k, v in os.environ.items() if k not in {"GOOGLE_API_KEY", "SESSIONHUB_URL"}}
    done = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, env=env, check=False
    )
    assert (0, "state: {'user:budget': 600} | events: 4") == (
        done.returncode,
        next((line for line in done.stdout.splitlines() if line.startswith("state:")), ""),
    )


async def test_api_message_reads_as_text_event(
    service: SessionhubSessionService, engine: Engine, keys: Keys
) -> None:
    """A message written through Sessionhub's own API reads back as a text event."""
    await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    await engine.memory.add(keys.app_id, "chat-1", MessageIn(role="assistant", content="Hi!"))
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    event = found.events[0]
    assert ("assistant", "model", "Hi!") == (
        event.author,
        event.content.role if event.content else None,
        event.content.parts[0].text if event.content and event.content.parts else None,
    )


async def test_append_from_a_stale_session_is_refused(service: SessionhubSessionService) -> None:
    """A runner whose session object predates another runner's append gets StaleSessionError,
    and neither its event nor its state change is stored."""
    await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    first = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    second = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert first is not None
    assert second is not None
    await service.append_event(first, text_event("from the first runner"))
    late = text_event("from the second runner", actions=EventActions(state_delta={"step": 2}))
    with pytest.raises(StaleSessionError):
        await service.append_event(second, late)
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    assert (["from the first runner"], {}) == (
        [e.content.parts[0].text for e in found.events if e.content and e.content.parts],
        found.state,
    )


async def test_concurrent_appends_from_one_loaded_session_store_one(
    service: SessionhubSessionService,
) -> None:
    """Two runners that loaded the same revision append at once: exactly one event is stored,
    the other runner gets StaleSessionError."""
    created = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    copies = [created.model_copy(deep=True) for _ in range(2)]
    for copy in copies:  # a deep copy of a pydantic model keeps its private attributes
        set_marker(copy, get_marker(created) or "")
    results = await asyncio.gather(
        *(service.append_event(c, text_event(f"runner {i}")) for i, c in enumerate(copies)),
        return_exceptions=True,
    )
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    assert ([Event], [StaleSessionError], 1) == (
        [type(r) for r in results if isinstance(r, Event)],
        [type(r) for r in results if isinstance(r, Exception)],
        len(found.events),
    )


async def test_a_session_appends_on_after_its_own_appends_and_after_a_reload(
    service: SessionhubSessionService,
) -> None:
    """Its own appends keep a session current; a stale runner that reloads can append again."""
    created = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    stale = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert stale is not None
    for text in ("one", "two", "three"):
        await service.append_event(created, text_event(text))
    with pytest.raises(StaleSessionError):
        await service.append_event(stale, text_event("late"))
    reloaded = await service.get_session(
        app_name=APP,
        user_id="u1",
        session_id="chat-1",
        config=GetSessionConfig(num_recent_events=0),
    )
    assert reloaded is not None
    await service.append_event(reloaded, text_event("after reload"))
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    assert ["one", "two", "three", "after reload"] == [
        e.content.parts[0].text for e in found.events if e.content and e.content.parts
    ]


async def test_a_session_without_marker_is_checked_by_last_update_time(
    service: SessionhubSessionService,
) -> None:
    """A session object without ADK's revision marker (made by hand, or an older ADK) is stale
    when a stored message is newer than its last_update_time, and current otherwise."""
    created = await service.create_session(app_name=APP, user_id="u1", session_id="chat-1")
    await service.append_event(created, text_event("stored"))
    by_hand = AdkSession(id="chat-1", app_name=APP, user_id="u1", last_update_time=0.0)
    assert get_marker(by_hand) is None
    with pytest.raises(StaleSessionError):
        await service.append_event(by_hand, text_event("from an old copy"))
    by_hand.last_update_time = created.last_update_time
    await service.append_event(by_hand, text_event("from a current copy"))
    found = await service.get_session(app_name=APP, user_id="u1", session_id="chat-1")
    assert found is not None
    assert ["stored", "from a current copy"] == [
        e.content.parts[0].text for e in found.events if e.content and e.content.parts
    ]
