"""Google ADK's ``BaseSessionService``, backed by Sessionhub.

    from google.adk.runners import Runner
    from sessionhub.adapters.google_adk import SessionhubSessionService

    service = SessionhubSessionService.in_process(engine, app_id)      # or:
    service = SessionhubSessionService.over_http("http://localhost:8000", "sk_…")
    runner = Runner(agent=agent, app_name="shop", session_service=service)

An ADK session is a Sessionhub session (kind ``conversation``, the ADK user as its user,
the ADK app name in its metadata) and its events are the session's messages, in order:
a text event is stored as its text (so history, topics, budgets and share links read
it) with the whole event in the message metadata; an event too large for that is stored
whole as JSON in the content. State follows ADK's prefixes: plain keys are the
session's ``session`` state, ``user:`` keys the ``user`` state, ``app:`` keys the
``app`` state (both under ``adk:<app name>:``, so two ADK apps do not share them), and
``temp:`` keys are never stored.

Two runners on one session do not overwrite each other: as ADK's own services do, an
``append_event`` from a session object older than what is stored raises
``StaleSessionError`` (reload the session and go on). A session this service returns
carries the id of the newest message it saw (in ADK's ``_storage_update_marker``), and
the append stores its event only if that is still the newest, atomically. A session
object without that marker (made by hand, or an ADK without it) is checked by its
``last_update_time`` against the newest stored message instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from sessionhub.client import AsyncClient
from sessionhub.core.memory import NO_MESSAGES
from sessionhub.core.session_rows import MAX_METADATA_BYTES, not_found
from sessionhub.errors import Conflict, NotFound
from sessionhub.models import (
    Message,
    MessageIn,
    Messages,
    Page,
    Role,
    Session,
    SessionCreate,
    SessionFilter,
    StatePut,
)

try:
    from google.adk.errors.already_exists_error import AlreadyExistsError
    from google.adk.errors.session_not_found_error import SessionNotFoundError
    from google.adk.events import Event
    from google.adk.sessions import BaseSessionService
    from google.adk.sessions import Session as AdkSession
    from google.adk.sessions.base_session_service import GetSessionConfig, ListSessionsResponse
    from google.adk.sessions.state import State
    from google.genai import types
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "The Google ADK adapter needs the google-adk package: pip install 'sessionhub[adk]'"
    ) from exc
try:  # ADK's own error for a stale session (google-adk 2.x); a ValueError like it before
    from google.adk.errors._stale_session_error import StaleSessionError
except ImportError:  # pragma: no cover - depends on the ADK version

    class StaleSessionError(ValueError):  # type: ignore[no-redef]
        """The session has changed in storage since this session object was loaded."""


if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

APP_NAME_KEY = "adk_app_name"
EVENT_KEY = "adk_event"  # metadata: the whole event (the content is its text)
EVENT_JSON_KEY = "adk_event_json"  # metadata flag: the content is the whole event as JSON
PAGE = 500  # the largest page the API gives
_BACK = 100  # events read per step when looking back for ``after_timestamp``
# ADK's private attribute for a storage revision (google-adk 2.x); ours is the newest
# message's id. Older ADKs have no such attribute: then last_update_time is compared.
_MARKER = "_storage_update_marker"
_STALE = (
    "The session has been modified in storage since it was loaded. "
    "Please reload the session before appending more events."
)


class ListSessionsPage(ListSessionsResponse):  # type: ignore[misc]
    """A page of ``list_sessions``; pass ``next_page_token`` back as ``page_token``."""

    next_page_token: str | None = None


# -- events as messages ---------------------------------------------------------------------


def _text(event: Event) -> str:
    if event.content is None or not event.content.parts:
        return ""
    return "".join(part.text for part in event.content.parts if part.text and not part.thought)


def event_to_message(event: Event) -> MessageIn:
    """The message that stores ``event`` (its id as the client id: a retry is not stored twice)."""
    role: Role
    if event.author == "user":
        role = "user"
    elif event.get_function_responses():
        role = "tool"
    else:
        role = "assistant"
    data = event.model_dump(mode="json", exclude_none=True)
    text = _text(event)
    metadata = {EVENT_KEY: data}
    if text and len(orjson.dumps(metadata)) <= MAX_METADATA_BYTES:
        return MessageIn(role=role, content=text, metadata=metadata, client_id=event.id)
    return MessageIn(
        role=role,
        content=orjson.dumps(data).decode(),
        metadata={EVENT_JSON_KEY: True},
        client_id=event.id,
    )


def message_to_event(message: Message) -> Event:
    """The event a message stands for; a message not written by ADK becomes a text event."""
    if EVENT_KEY in message.metadata:
        return Event.model_validate(message.metadata[EVENT_KEY])
    if message.metadata.get(EVENT_JSON_KEY):
        return Event.model_validate_json(message.content)
    author = "user" if message.role == "user" else message.role
    role = "user" if message.role == "user" else "model"
    return Event(
        id=message.id,
        invocation_id="",
        author=author,
        content=types.Content(role=role, parts=[types.Part(text=message.content)]),
        timestamp=message.created_at.timestamp(),
    )


def _has_marker(session: AdkSession) -> bool:
    return _MARKER in (getattr(type(session), "__private_attributes__", None) or {})


def get_marker(session: AdkSession) -> str | None:
    """The newest message id ``session`` was loaded with (None: not ours, or an older ADK)."""
    marker = getattr(session, _MARKER, None) if _has_marker(session) else None
    return marker if isinstance(marker, str) else None


def set_marker(session: AdkSession, last_message_id: str) -> None:
    if _has_marker(session):
        setattr(session, _MARKER, last_message_id)


def split_state(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ADK state by where it is kept: ``session``, ``user``, ``app`` (``temp:`` keys dropped)."""
    scopes: dict[str, dict[str, Any]] = {"session": {}, "user": {}, "app": {}}
    for key, value in state.items():
        if key.startswith(State.APP_PREFIX):
            scopes["app"][key.removeprefix(State.APP_PREFIX)] = value
        elif key.startswith(State.USER_PREFIX):
            scopes["user"][key.removeprefix(State.USER_PREFIX)] = value
        elif not key.startswith(State.TEMP_PREFIX):
            scopes["session"][key] = value
    return scopes


# -- where it is kept -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """A state scope and its owner: ``session`` (a session id), ``user`` (a user id) or ``app``."""

    name: str
    owner: str | None = None


class Backend(Protocol):
    """The Sessionhub operations the service needs, in-process or over HTTP."""

    async def create(self, request: SessionCreate) -> tuple[Session, bool]: ...
    async def get(self, session_id: str) -> Session | None: ...
    async def search(
        self, user_id: str | None, limit: int, cursor: str | None
    ) -> Page[Session]: ...
    async def delete(self, session_id: str) -> None: ...
    async def append(
        self, session_id: str, messages: list[MessageIn], expect_last: str | None
    ) -> list[Message]: ...
    async def page(self, session_id: str, limit: int, cursor: str | None) -> Messages: ...
    async def history(self, session_id: str) -> list[Message]: ...
    async def state(self, scope: Scope) -> dict[str, Any]: ...
    async def put_state(self, scope: Scope, key: str, value: Any) -> None: ...


class EngineBackend:
    """One app of an Engine running in this process."""

    def __init__(self, engine: Engine, app_id: str):
        self.engine = engine
        self.app_id = app_id

    async def create(self, request: SessionCreate) -> tuple[Session, bool]:
        return await self.engine.sessions.create(self.app_id, request)

    async def get(self, session_id: str) -> Session | None:
        try:
            return await self.engine.sessions.get(self.app_id, session_id)
        except NotFound:
            return None

    async def search(self, user_id: str | None, limit: int, cursor: str | None) -> Page[Session]:
        filters = SessionFilter(kind="conversation", user_id=user_id)
        return await self.engine.sessions.list(self.app_id, filters, limit=limit, cursor=cursor)

    async def delete(self, session_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self.engine.sessions.delete(self.app_id, session_id)

    async def append(
        self, session_id: str, messages: list[MessageIn], expect_last: str | None
    ) -> list[Message]:
        return await self.engine.memory.append(
            self.app_id, session_id, messages, expect_last=expect_last
        )

    async def page(self, session_id: str, limit: int, cursor: str | None) -> Messages:
        return await self.engine.memory.page(self.app_id, session_id, limit=limit, cursor=cursor)

    async def history(self, session_id: str) -> list[Message]:
        return await self.engine.memory.history(self.app_id, session_id)

    async def state(self, scope: Scope) -> dict[str, Any]:
        entries = await self.engine.state.list(self.app_id, scope.name, **_owner(scope))  # type: ignore[arg-type]
        return {entry.key: entry.value for entry in entries.items}

    async def put_state(self, scope: Scope, key: str, value: Any) -> None:
        await self.engine.state.put(
            self.app_id,
            scope.name,  # type: ignore[arg-type]
            key,
            StatePut(value=value),
            **_owner(scope),
        )


def _owner(scope: Scope) -> dict[str, str | None]:
    if scope.name == "session":
        return {"session_id": scope.owner}
    return {"user_id": scope.owner} if scope.name == "user" else {}


class HttpBackend:
    """A Sessionhub server, through the Python client with one of its app's secret keys."""

    def __init__(self, base_url: str, api_key: str, *, client: AsyncClient | None = None):
        self.client = client or AsyncClient(base_url, key=api_key)

    async def create(self, request: SessionCreate) -> tuple[Session, bool]:
        body = request.model_dump(mode="json", exclude_none=True)
        response = await self.client._raw("POST", "/v1/sessions", json=body)
        return Session.model_validate_json(response.content), response.status_code == 201

    async def get(self, session_id: str) -> Session | None:
        try:
            return await self.client.get_session(session_id)
        except NotFound:
            return None

    async def search(self, user_id: str | None, limit: int, cursor: str | None) -> Page[Session]:
        return await self.client.list_sessions(
            kind="conversation", user_id=user_id, limit=limit, cursor=cursor
        )

    async def delete(self, session_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self.client.delete_session(session_id)

    async def append(
        self, session_id: str, messages: list[MessageIn], expect_last: str | None
    ) -> list[Message]:
        # The API creates a missing session on a message; ADK wants an error instead.
        if await self.get(session_id) is None:
            raise not_found(session_id)
        body: dict[str, Any] = {"messages": [message.model_dump() for message in messages]}
        if expect_last is not None:
            body["expect_last"] = expect_last
        return (await self.client.add_messages(session_id, body)).items

    async def page(self, session_id: str, limit: int, cursor: str | None) -> Messages:
        return await self.client.list_messages(session_id, limit=limit, cursor=cursor)

    async def history(self, session_id: str) -> list[Message]:
        found: list[Message] = []
        cursor: str | None = None
        while True:
            page = await self.client.list_messages(
                session_id, limit=PAGE, cursor=cursor, direction="forward"
            )
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    async def state(self, scope: Scope) -> dict[str, Any]:
        if scope.name == "session":
            entries = await self.client.list_session_state(scope.owner or "")
        elif scope.name == "user":
            entries = await self.client.list_user_state(scope.owner or "")
        else:
            entries = await self.client.list_app_state()
        return {item.key: item.value for item in entries.items}

    async def put_state(self, scope: Scope, key: str, value: Any) -> None:
        body = {"value": value}
        if scope.name == "session":
            await self.client.put_session_state(scope.owner or "", key, body)
        elif scope.name == "user":
            await self.client.put_user_state(scope.owner or "", key, body)
        else:
            await self.client.put_app_state(key, body)

    async def aclose(self) -> None:
        await self.client.close()


# -- the service ----------------------------------------------------------------------------


class SessionhubSessionService(BaseSessionService):  # type: ignore[misc]
    """ADK sessions, their events and their state, kept in Sessionhub."""

    def __init__(self, backend: Backend):
        self.backend = backend

    @classmethod
    def in_process(cls, engine: Engine, app_id: str) -> SessionhubSessionService:
        """Sessions of one app on an Engine running in this process."""
        return cls(EngineBackend(engine, app_id))

    @classmethod
    def over_http(
        cls, base_url: str, api_key: str, *, client: AsyncClient | None = None
    ) -> SessionhubSessionService:
        """Sessions on a Sessionhub server, with one of its app's secret keys."""
        return cls(HttpBackend(base_url, api_key, client=client))

    async def _scoped_state(self, app_name: str, user_id: str) -> dict[str, Any]:
        """The app's and the user's state under their ADK prefixes."""
        app_state = await self.backend.state(Scope("app"))
        user_state = await self.backend.state(Scope("user", user_id))
        return {
            **self._unprefixed(app_state, app_name, State.APP_PREFIX),
            **self._unprefixed(user_state, app_name, State.USER_PREFIX),
        }

    @staticmethod
    def _unprefixed(stored: dict[str, Any], app_name: str, adk_prefix: str) -> dict[str, Any]:
        ours = f"adk:{app_name}:"
        return {
            adk_prefix + key.removeprefix(ours): value
            for key, value in stored.items()
            if key.startswith(ours)
        }

    async def _save_state(
        self, app_name: str, user_id: str, session_id: str, state: dict[str, Any]
    ) -> None:
        scopes = split_state(state)
        puts: Iterable[tuple[Scope, str, Any]] = [
            *((Scope("session", session_id), k, v) for k, v in scopes["session"].items()),
            *(
                (Scope("user", user_id), f"adk:{app_name}:{k}", v)
                for k, v in scopes["user"].items()
            ),
            *((Scope("app"), f"adk:{app_name}:{k}", v) for k, v in scopes["app"].items()),
        ]
        for scope, key, value in puts:
            await self.backend.put_state(scope, key, value)

    async def _own(self, app_name: str, user_id: str, session_id: str) -> Session | None:
        """The Sessionhub session behind an ADK session (None when it is not this app's and user's)."""
        found = await self.backend.get(session_id)
        if found is None or found.user_id != user_id:
            return None
        return found if found.metadata.get(APP_NAME_KEY) == app_name else None

    @staticmethod
    def _adk_session(found: Session, app_name: str) -> AdkSession:
        return AdkSession(
            id=found.id,
            app_name=app_name,
            user_id=found.user_id or "",
            last_update_time=found.last_activity_at.timestamp(),
        )

    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> AdkSession:
        """Start a session (a Sessionhub ``conversation``); an id already taken is an error."""
        session_id = session_id.strip() if session_id else None
        request = SessionCreate(
            id=session_id,
            kind="conversation",
            user_id=user_id,
            metadata={APP_NAME_KEY: app_name},
        )
        found, created = await self.backend.create(request)
        if not created:
            raise AlreadyExistsError(f"Session with id {session_id} already exists.")
        if state:
            await self._save_state(app_name, user_id, found.id, state)
        session = self._adk_session(found, app_name)
        set_marker(session, NO_MESSAGES)
        session.state.update(split_state(state or {})["session"])
        session.state.update(await self._scoped_state(app_name, user_id))
        return session

    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> AdkSession | None:
        """The session with its state and events (the newest ``num_recent_events``, those
        from ``after_timestamp`` on); None when it does not exist."""
        found = await self._own(app_name, user_id, session_id)
        if found is None:
            return None
        session = self._adk_session(found, app_name)
        session.events, last_id = await self._events(found.id, config or GetSessionConfig())
        # The marker comes from the same read as the events: state read after it may be
        # newer, and then the next append is refused as stale, which is the safe side.
        set_marker(session, last_id)
        session.state.update(await self.backend.state(Scope("session", found.id)))
        session.state.update(await self._scoped_state(app_name, user_id))
        return session

    async def _events(self, session_id: str, config: GetSessionConfig) -> tuple[list[Event], str]:
        """The events ``config`` asks for, and the id of the newest message (its marker)."""
        recent, after = config.num_recent_events, config.after_timestamp
        if recent == 0:
            return [], _last_id((await self.backend.page(session_id, 1, None)).items)
        if after is None:
            if recent is None or recent > PAGE:
                messages = await self.backend.history(session_id)
                events = [message_to_event(m) for m in messages[-(recent or len(messages)) :]]
                return events, _last_id(messages)
            items = (await self.backend.page(session_id, recent, None)).items
            return [message_to_event(m) for m in items], _last_id(items)
        # Look back from the newest until an event older than ``after`` (as ADK's own
        # services do), at most ``recent`` events.
        newest_first: list[Event] = []
        cursor: str | None = None
        last_id: str | None = None
        while recent is None or len(newest_first) < recent:
            page = await self.backend.page(session_id, _BACK, cursor)
            if last_id is None:
                last_id = _last_id(page.items)
            for message in reversed(page.items):
                event = message_to_event(message)
                if event.timestamp < after or len(newest_first) == recent:
                    return newest_first[::-1], last_id
                newest_first.append(event)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return newest_first[::-1], last_id or NO_MESSAGES

    async def list_sessions(
        self,
        *,
        app_name: str,
        user_id: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> ListSessionsPage:
        """The app's sessions (of ``user_id``, if given), without events or state.

        Without ``page_size``: all of them, the most recently active last (as ADK's
        services order them). With it: a page of up to ``page_size`` (at most 500),
        newest started first; pass ``next_page_token`` back as ``page_token`` for more.
        """
        if page_size is not None:
            page = await self.backend.search(user_id, min(max(page_size, 1), PAGE), page_token)
            return ListSessionsPage(
                sessions=self._of_app(page.items, app_name), next_page_token=page.next_cursor
            )
        found: list[AdkSession] = []
        cursor = None
        while True:
            page = await self.backend.search(user_id, PAGE, cursor)
            found.extend(self._of_app(page.items, app_name))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        found.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsPage(sessions=found)

    def _of_app(self, sessions: list[Session], app_name: str) -> list[AdkSession]:
        return [
            self._adk_session(s, app_name)
            for s in sessions
            if s.metadata.get(APP_NAME_KEY) == app_name and s.user_id is not None
        ]

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        """Delete the session: its events and session state go with it."""
        if await self._own(app_name, user_id, session_id) is not None:
            await self.backend.delete(session_id)

    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        """The user's state of this ADK app, keys without the ``user:`` prefix."""
        stored = await self.backend.state(Scope("user", user_id))
        return self._unprefixed(stored, app_name, "")

    async def append_event(self, session: AdkSession, event: Event) -> Event:
        """Store the event and its state changes, then add both to ``session``.

        ``temp:`` state reaches the in-memory session only, and is not stored.
        """
        if event.partial:
            return event
        delta = event.actions.state_delta if event.actions else {}
        temp = {k: v for k, v in delta.items() if k.startswith(State.TEMP_PREFIX)}
        if temp:
            session.state.update(temp)
            event.actions.state_delta = {k: v for k, v in delta.items() if k not in temp}
        try:
            expect_last = await self._expected_last(session)
            stored = await self.backend.append(session.id, [event_to_message(event)], expect_last)
        except NotFound as exc:
            raise SessionNotFoundError(f"Session {session.id} not found.") from exc
        except Conflict as exc:
            if exc.code == "stale_history":
                raise StaleSessionError(_STALE) from exc
            raise
        if event.actions and event.actions.state_delta:
            await self._save_state(
                session.app_name, session.user_id, session.id, event.actions.state_delta
            )
            session.state.update(event.actions.state_delta)
        session.events.append(event)
        # The stored time, as get_session reports it (and the fallback check compares).
        session.last_update_time = stored[-1].created_at.timestamp()
        set_marker(session, stored[-1].id)
        return event

    async def _expected_last(self, session: AdkSession) -> str:
        """The newest message ``session`` has seen; StaleSessionError when storage moved on.

        With the marker the check is the append's own (atomic). Without it (a session
        object made by hand, or an ADK without markers) the newest stored message must
        not be newer than ``last_update_time``, as ADK's services compare; its id then
        guards the append all the same.
        """
        marker = get_marker(session)
        if marker is not None:
            return marker
        newest = (await self.backend.page(session.id, 1, None)).items
        if newest and newest[-1].created_at.timestamp() > session.last_update_time:
            raise StaleSessionError(_STALE)
        return _last_id(newest)

    async def close(self) -> None:
        """Close the HTTP client (nothing to do in-process)."""
        if isinstance(self.backend, HttpBackend):
            await self.backend.aclose()


def _last_id(messages: list[Message]) -> str:
    return messages[-1].id if messages else NO_MESSAGES


__all__ = [
    "Backend",
    "EngineBackend",
    "HttpBackend",
    "ListSessionsPage",
    "SessionhubSessionService",
    "StaleSessionError",
    "event_to_message",
    "get_marker",
    "message_to_event",
    "set_marker",
    "split_state",
]
