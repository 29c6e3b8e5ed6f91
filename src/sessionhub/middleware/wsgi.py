"""WSGI middleware (Flask, Django): a Sessionhub session for every visitor.

    app.wsgi_app = SessionhubWSGIMiddleware(app.wsgi_app, client=Client(url, key=sk))

Page views (GET requests outside ``exclude``) and 5xx answers are recorded as events;
``environ["sessionhub"]`` is the visitor's ``Visitor``: ``identify(user_id)`` on login,
``end()`` on logout, ``track(name, props)``. When Sessionhub cannot be reached the
request goes on untracked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sessionhub.client import Client
from sessionhub.errors import SessionhubError
from sessionhub.middleware._visitor import (
    DEVICE_MAX_AGE_S,
    GONE,
    Cookies,
    SyncBackend,
    Visit,
    error_event,
    log,
    new_device_id,
)

DEFAULT_EXCLUDE = ("/static/", "/favicon.ico", "/robots.txt", "/healthz")
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Visitor:
    """The visitor of one request: their session and device, and what the app may do."""

    def __init__(self, backend: SyncBackend, visit: Visit, session_id: str | None, device: str):
        self._backend = backend
        self._visit = visit
        self.session_id = session_id
        self.device_id = device
        self.ended = False

    def identify(self, user_id: str) -> None:
        """The visitor logged in: link their device, and so their sessions, to ``user_id``."""
        try:
            self._backend.identify(self.device_id, user_id)
        except SessionhubError as exc:
            log.warning("sessionhub identify failed: %s", exc.code)

    def end(self, reason: str = "logout") -> None:
        """End the visitor's session (logout); the next page view starts a new one."""
        if self.session_id is not None:
            try:
                self._backend.end(self.session_id, reason)
            except SessionhubError as exc:
                log.warning("sessionhub end failed: %s", exc.code)
        self.ended = True

    def track(self, name: str, properties: dict[str, Any] | None = None) -> None:
        """Record an event of the app's choosing in the visitor's session."""
        if self.session_id is None or self.ended:
            return
        event = {"type": name, "path": self._visit.path, "properties": properties or {}}
        try:
            self._backend.send(self.session_id, [event])
        except GONE:
            pass
        except SessionhubError as exc:
            log.warning("sessionhub track failed: %s", exc.code)


class SessionhubWSGIMiddleware:
    """Start or resume a Sessionhub session for each visitor of a WSGI app."""

    def __init__(self, app: WSGIApp, *, client: Client, exclude: Sequence[str] = DEFAULT_EXCLUDE):
        self.app = app
        self.backend = SyncBackend(client)
        self.exclude = tuple(exclude)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        cookies = Cookies(secure=environ.get("wsgi.url_scheme") == "https")
        session_id, device_id = cookies.read(environ.get("HTTP_COOKIE"))
        new_device = device_id is None
        device_id = device_id or new_device_id()
        visit = _visit(environ)
        visitor = Visitor(self.backend, visit, session_id, device_id)
        environ["sessionhub"] = visitor
        path = visit.path
        if environ.get("REQUEST_METHOD") == "GET" and not path.startswith(self.exclude):
            try:
                visitor.session_id = self.backend.page_view(session_id, device_id, visit)
            except SessionhubError as exc:
                log.warning("sessionhub page view not recorded: %s", exc.code)

        def record_error(status: int) -> None:
            if visitor.session_id is None or visitor.ended:
                return
            try:
                self.backend.send(visitor.session_id, [error_event(status, visit)])
            except SessionhubError as exc:
                log.warning("sessionhub error event not recorded: %s", exc.code)

        def start_with_cookies(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            status = int(status_line.split(" ", 1)[0])
            if status >= 500:
                record_error(status)
            headers = list(headers)
            if new_device:
                headers.append(
                    ("Set-Cookie", cookies.set(cookies.device, device_id, DEVICE_MAX_AGE_S))
                )
            if visitor.ended:
                headers.append(("Set-Cookie", cookies.set(cookies.session, "", 0)))
            elif visitor.session_id is not None and visitor.session_id != session_id:
                headers.append(("Set-Cookie", cookies.set(cookies.session, visitor.session_id)))
            return start_response(status_line, headers, exc_info)

        try:
            return self.app(environ, start_with_cookies)
        except Exception:
            record_error(500)  # the server turns it into a 500 the app never started
            raise


def _visit(environ: dict[str, Any]) -> Visit:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
    path = environ.get("PATH_INFO", "/") or "/"
    query = environ.get("QUERY_STRING", "")
    url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
    return Visit(
        url=url[:2048],
        path=path[:2048],
        referrer=environ.get("HTTP_REFERER"),
        user_agent=environ.get("HTTP_USER_AGENT"),
        ip=environ.get("REMOTE_ADDR"),
    )
