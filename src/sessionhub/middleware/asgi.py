"""ASGI middleware (Starlette, FastAPI): a Sessionhub session for every visitor.

    app.add_middleware(SessionhubMiddleware, engine=engine, app_id=app_id)   # embedded
    app.add_middleware(SessionhubMiddleware, client=AsyncClient(url, key=sk)) # remote

Page views (GET requests outside ``exclude``) and 5xx answers are recorded as events;
``request.state.sessionhub`` is the visitor's ``AsyncVisitor``: ``await
identify(user_id)`` on login, ``await end()`` on logout, ``await track(name, props)``.
When Sessionhub cannot be reached the request goes on untracked: analytics must never
take the app down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionhub.client import AsyncClient
from sessionhub.core.engine import Engine
from sessionhub.errors import SessionhubError
from sessionhub.middleware._visitor import (
    DEVICE_MAX_AGE_S,
    GONE,
    AsyncBackend,
    Cookies,
    Visit,
    error_event,
    log,
    new_device_id,
)

DEFAULT_EXCLUDE = ("/static/", "/favicon.ico", "/robots.txt", "/healthz")


class AsyncVisitor:
    """The visitor of one request: their session and device, and what the app may do."""

    def __init__(self, backend: AsyncBackend, visit: Visit, session_id: str | None, device: str):
        self._backend = backend
        self._visit = visit
        self.session_id = session_id
        self.device_id = device
        self.ended = False

    async def identify(self, user_id: str) -> None:
        """The visitor logged in: link their device, and so their sessions, to ``user_id``."""
        try:
            await self._backend.identify(self.device_id, user_id)
        except SessionhubError as exc:
            log.warning("sessionhub identify failed: %s", exc.code)

    async def end(self, reason: str = "logout") -> None:
        """End the visitor's session (logout); the next page view starts a new one."""
        if self.session_id is not None:
            try:
                await self._backend.end(self.session_id, reason)
            except SessionhubError as exc:
                log.warning("sessionhub end failed: %s", exc.code)
        self.ended = True

    async def track(self, name: str, properties: dict[str, Any] | None = None) -> None:
        """Record an event of the app's choosing in the visitor's session."""
        if self.session_id is None or self.ended:
            return
        event = {"type": name, "path": self._visit.path, "properties": properties or {}}
        try:
            await self._backend.send(self.session_id, [event], self._visit)
        except GONE:
            pass
        except SessionhubError as exc:
            log.warning("sessionhub track failed: %s", exc.code)


class SessionhubMiddleware:
    """Start or resume a Sessionhub session for each visitor of an ASGI app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: AsyncClient | None = None,
        engine: Engine | None = None,
        app_id: str | Callable[[], str] = "",
        exclude: Sequence[str] = DEFAULT_EXCLUDE,
    ):
        self.app = app
        self.backend = AsyncBackend(client, engine, app_id)
        self.exclude = tuple(exclude)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = Cookies(secure=scope.get("scheme") == "https")
        session_id, device_id = cookies.read(headers.get("cookie"))
        new_device = device_id is None
        device_id = device_id or new_device_id()
        visit = _visit(scope, headers)
        visitor = AsyncVisitor(self.backend, visit, session_id, device_id)
        scope.setdefault("state", {})["sessionhub"] = visitor
        path: str = scope["path"]
        if scope["method"] == "GET" and not path.startswith(self.exclude):
            try:
                visitor.session_id = await self.backend.page_view(session_id, device_id, visit)
            except SessionhubError as exc:
                log.warning("sessionhub page view not recorded: %s", exc.code)
        status = 500

        async def send_with_cookies(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = []
                if new_device:
                    extra.append(cookies.set(cookies.device, device_id, DEVICE_MAX_AGE_S))
                if visitor.ended:
                    extra.append(cookies.set(cookies.session, "", 0))
                elif visitor.session_id is not None and visitor.session_id != session_id:
                    extra.append(cookies.set(cookies.session, visitor.session_id))
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        *((b"set-cookie", value.encode("latin-1")) for value in extra),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookies)
        finally:
            if status >= 500 and visitor.session_id is not None and not visitor.ended:
                try:
                    await self.backend.send(visitor.session_id, [error_event(status, visit)], visit)
                except SessionhubError as exc:
                    log.warning("sessionhub error event not recorded: %s", exc.code)


def _visit(scope: Scope, headers: Headers) -> Visit:
    host = headers.get("host", "localhost")
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}" + (f"?{query}" if query else "")
    client = scope.get("client")
    return Visit(
        url=url[:2048],
        path=scope["path"][:2048],
        referrer=headers.get("referer"),
        user_agent=headers.get("user-agent"),
        ip=client[0] if client else None,
    )
