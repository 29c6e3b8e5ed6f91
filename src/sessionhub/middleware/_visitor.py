"""What both middlewares share: the visitor's cookies and the calls that record a visit.

A visitor carries two cookies: a device id (a year) and the current session id (until
the browser closes). A page view goes to the session in the cookie; when Sessionhub
answers that the session is over (or unknown), a new one starts with that page as its
entry and the cookie follows it: the server's idle and absolute limits decide, not the
middleware.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from pydantic import ValidationError

from sessionhub.client import AsyncClient, Client
from sessionhub.core.engine import Engine
from sessionhub.enrich.client import ClientInfo
from sessionhub.errors import NotFound, SessionEnded, error_class_for
from sessionhub.models import SessionCreate, SessionEnd
from sessionhub.models.sessions import Identify

log = logging.getLogger("sessionhub.middleware")

DEVICE_MAX_AGE_S = 365 * 24 * 3600
GONE = (SessionEnded, NotFound)


@dataclass
class Visit:
    """One request as Sessionhub sees it."""

    url: str
    path: str
    referrer: str | None
    user_agent: str | None
    ip: str | None


@dataclass
class Cookies:
    """The cookie names for a request's scheme: ``__Host-`` ones (Secure) over HTTPS."""

    secure: bool

    @property
    def session(self) -> str:
        return "__Host-sessionhub" if self.secure else "sessionhub"

    @property
    def device(self) -> str:
        return "__Host-sessionhub_device" if self.secure else "sessionhub_device"

    def read(self, header: str | None) -> tuple[str | None, str | None]:
        """(session id, device id) from a Cookie header."""
        if not header:
            return None, None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except Exception:  # a malformed Cookie header is the visitor's problem, not ours
            return None, None
        session = jar.get(self.session)
        device = jar.get(self.device)
        return (session.value if session else None, device.value if device else None)

    def set(self, name: str, value: str, max_age: int | None = None) -> str:
        """A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS."""
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def new_device_id() -> str:
    return "dev_" + secrets.token_urlsafe(16)


def page_view(visit: Visit) -> dict[str, Any]:
    return {"type": "page_view", "url": visit.url, "path": visit.path, "referrer": visit.referrer}


def session_request(visit: Visit, device_id: str) -> SessionCreate:
    """The session a visit starts; a referrer or URL the API would refuse is left out."""
    user_agent = visit.user_agent[:1024] if visit.user_agent else None
    try:
        return SessionCreate(
            device_id=device_id,
            entry_page=visit.url,
            referrer=visit.referrer,
            user_agent=user_agent,
        )
    except ValidationError:
        return SessionCreate(device_id=device_id, user_agent=user_agent)


class AsyncBackend:
    """Record visits through an AsyncClient (a remote server) or an Engine (in-process)."""

    def __init__(
        self,
        client: AsyncClient | None = None,
        engine: Engine | None = None,
        app_id: str | Callable[[], str] = "",
    ):
        if (client is None) == (engine is None):
            raise ValueError("Give either a client (remote server) or an engine and its app_id")
        if engine is not None and not app_id:
            raise ValueError("An embedded engine needs the app_id to record visits in")
        self.client, self.engine, self._app_id = client, engine, app_id

    @property
    def app_id(self) -> str:
        """The app visits go to (a function given instead is asked each time: set at startup)."""
        return self._app_id if isinstance(self._app_id, str) else self._app_id()

    async def page_view(self, session_id: str | None, device_id: str, visit: Visit) -> str:
        """Record a page view; return the session it went to (a new one when the old is over)."""
        if session_id is not None:
            try:
                await self.send(session_id, [page_view(visit)], visit)
                return session_id
            except GONE:
                pass
        session_id = await self._create(device_id, visit)
        await self.send(session_id, [page_view(visit)], visit)
        return session_id

    async def _create(self, device_id: str, visit: Visit) -> str:
        request = session_request(visit, device_id)
        if self.engine is not None:
            info = ClientInfo(ip=visit.ip, user_agent=visit.user_agent)
            session, _ = await self.engine.sessions.create(self.app_id, request, client=info)
            return session.id
        assert self.client is not None
        return (await self.client.create_session(request)).id

    async def send(self, session_id: str, events: list[dict[str, Any]], visit: Visit) -> None:
        """Store events in the session; SessionEnded or NotFound when it is over or unknown."""
        if self.engine is not None:
            info = ClientInfo(ip=visit.ip, user_agent=visit.user_agent)
            result = await self.engine.events.ingest(
                self.app_id, events, session_id=session_id, client=info
            )
            if result.rejected and not (result.accepted or result.duplicates):
                first = result.rejected[0]  # as the API would answer: the error itself
                raise error_class_for(first.code, 422)(first.message, code=first.code)
            return
        assert self.client is not None
        await self.client.send_session_events(session_id, {"events": events})

    async def identify(self, device_id: str, user_id: str) -> None:
        request = Identify(device_id=device_id, user_id=user_id)
        if self.engine is not None:
            await self.engine.sessions.identify(self.app_id, request)
        else:
            assert self.client is not None
            await self.client.identify_device(request)

    async def end(self, session_id: str, reason: str) -> None:
        request = SessionEnd.model_validate({"reason": reason})
        try:
            if self.engine is not None:
                await self.engine.sessions.end(self.app_id, session_id, request)
            else:
                assert self.client is not None
                await self.client.end_session(session_id, request)
        except GONE:
            pass  # over already: what the caller wanted


class SyncBackend:
    """Record visits through a blocking Client (WSGI apps)."""

    def __init__(self, client: Client):
        self.client = client

    def page_view(self, session_id: str | None, device_id: str, visit: Visit) -> str:
        """Record a page view; return the session it went to (a new one when the old is over)."""
        if session_id is not None:
            try:
                self.send(session_id, [page_view(visit)])
                return session_id
            except GONE:
                pass
        session_id = self.client.create_session(session_request(visit, device_id)).id
        self.send(session_id, [page_view(visit)])
        return session_id

    def send(self, session_id: str, events: list[dict[str, Any]]) -> None:
        self.client.send_session_events(session_id, {"events": events})

    def identify(self, device_id: str, user_id: str) -> None:
        self.client.identify_device(Identify(device_id=device_id, user_id=user_id))

    def end(self, session_id: str, reason: str) -> None:
        with contextlib.suppress(*GONE):
            self.client.end_session(session_id, SessionEnd.model_validate({"reason": reason}))


def error_event(status: int, visit: Visit) -> dict[str, Any]:
    return {
        "type": "error",
        "path": visit.path,
        "properties": {"status": status, "message": f"HTTP {status}"},
    }
