"""What every dashboard page shares: the sign-in, CSRF, the range and filters, rendering.

A page gets a ``Ctx`` (the engine, the login, the app it looks at, the range and filters
from the URL) and renders a template with it. Numbers come from the same core calls the
API makes, so a page and ``/v1/query`` agree for the same range and filters.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from sessionhub.core.engine import Engine
from sessionhub.core.logins import Login, Logins
from sessionhub.errors import Forbidden, Unauthorized
from sessionhub.models import App
from sessionhub.models.analytics import DATE_RANGES, EVENT_DIMENSIONS, SESSION_DIMENSIONS

HERE = Path(__file__).parent
COOKIE = "sessionhub_login"
PRE_COOKIE = "sessionhub_login_csrf"
CSRF_HEADER = "x-csrf-token"
FILTERABLE = (*SESSION_DIMENSIONS, *EVENT_DIMENSIONS, "segment")  # segment: by its key
RANGE_LABELS = {
    "today": "Today",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
    "12mo": "Last 12 months",
    "all": "All time",
}
# Shown as a filter value for sessions without one (a null in the query API).
NONE_VALUE = "(none)"
DASH = "\u2013"  # an en dash: shown where there is no value

templates = Jinja2Templates(directory=str(HERE / "templates"))


class SignInRequired(Exception):
    """No valid sign-in: the page answers with a redirect to the sign-in form."""


@dataclass(frozen=True)
class View:
    """The date range and filters of a page, as they travel in the URL."""

    range: str = "30d"
    start: str | None = None
    end: str | None = None
    filters: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def of(cls, request: Request) -> View:
        params = request.query_params
        name = params.get("range", "30d")
        start, end = params.get("from") or None, params.get("to") or None
        if start and end:
            name = "custom"
        elif name not in DATE_RANGES:
            name = "30d"
        found: list[tuple[str, str | None]] = []
        for item in params.getlist("f")[:20]:
            dimension, _, value = item.partition(":")
            if dimension in FILTERABLE and value and len(value) <= 2048:
                if dimension == "segment" and value == NONE_VALUE:
                    continue  # every session is in a segment or not: no "(none)" to pick
                found.append((dimension, None if value == NONE_VALUE else value))
        return cls(
            name,
            start if name == "custom" else None,
            end if name == "custom" else None,
            tuple(found),
        )

    @property
    def date_range(self) -> Any:
        """The range as a QueryIn (and the other reports) take it."""
        if self.range == "custom":
            return {"from": self.start, "to": self.end}
        return self.range

    @property
    def label(self) -> str:
        if self.range == "custom":
            return f"{self.start} {DASH} {self.end}"
        return RANGE_LABELS[self.range]

    def query_filters(self) -> list[dict[str, Any]]:
        """The filters as QueryIn conditions: all must hold."""
        return [{"dimension": d, "op": "is", "value": v} for d, v in self.filters]

    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.range == "custom":
            out += [("from", self.start or ""), ("to", self.end or "")]
        elif self.range != "30d":
            out.append(("range", self.range))
        out += [("f", f"{d}:{NONE_VALUE if v is None else v}") for d, v in self.filters]
        return out

    def qs(
        self,
        *,
        add: tuple[str, str | None] | None = None,
        drop: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> str:
        """This view's query string, with a filter added or dropped and extra parameters."""
        filters = [f for i, f in enumerate(self.filters) if i != drop]
        if add is not None and add not in filters:
            filters.append(add)
        view = View(self.range, self.start, self.end, tuple(filters))
        pairs = view.params() + [(k, v) for k, v in (extra or {}).items() if v]
        return "?" + urlencode(pairs) if pairs else ""

    def with_range(self, name: str) -> str:
        view = View(name, None, None, self.filters)
        pairs = view.params()
        return "?" + urlencode(pairs) if pairs else "?range=30d"


@dataclass
class Ctx:
    """One dashboard request: who is signed in, the app they look at, the view."""

    request: Request
    engine: Engine
    login: Login
    app: App | None
    apps: list[App]
    view: View
    flashes: list[str] = field(default_factory=list)

    @property
    def app_id(self) -> str:
        if self.app is None:
            raise Forbidden("Create an app first: `sessionhub apps create <name>`.")
        return self.app.id

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.update(ctx=self, view=self.view, app=self.app, login=self.login)
        response = templates.TemplateResponse(self.request, template, values, status_code=status)
        return secured(response)

    def partial(self, template: str, **values: Any) -> HTMLResponse:
        return self.render(template, **values)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def logins_of(request: Request) -> Logins:
    logins: Logins = request.app.state.logins
    return logins


async def current(request: Request) -> Ctx:
    """The request's context; SignInRequired without a valid sign-in, 403 on a bad CSRF token."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or len(cookie) > 200:
        raise SignInRequired
    try:
        login = await logins_of(request).find(cookie)
    except Unauthorized as exc:
        raise SignInRequired from exc
    if request.method not in ("GET", "HEAD"):
        await check_csrf(request, login.csrf)
    engine = engine_of(request)
    apps = await engine.apps.list() if login.is_admin else []
    app = None
    if login.app_id is not None:
        app = await engine.apps.get(login.app_id)
    return Ctx(request, engine, login, app, apps, View.of(request))


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse a state change whose form field or header lacks the login's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("The form is stale or came from another site: reload the page and retry.")


CtxDep = Annotated[Ctx, Depends(current)]
R = TypeVar("R", bound=Response)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def secured(response: R) -> R:
    """Headers every dashboard response carries: no framing, no sniffing, no inline script."""
    response.headers["content-security-policy"] = CSP
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["cache-control"] = "no-store"
    return response


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def hx_redirect(request: Request, url: str) -> Response:
    """A redirect that htmx follows as a full page load (a 303 for plain forms)."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"hx-redirect": url})
    return Response(status_code=303, headers={"location": url})


# -- formatting, for the templates ----------------------------------------------------------


def fmt_number(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def fmt_duration(seconds: Any) -> str:
    if seconds is None:
        return DASH
    total = round(float(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_percent(value: Any) -> str:
    return DASH if value is None else f"{float(value):.1f}%"


def fmt_time(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return str(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))


def fmt_change(value: Any) -> str:
    if value is None:
        return ""
    return f"{'+' if value > 0 else ''}{value:.0f}%"


templates.env.filters.update(
    number=fmt_number,
    duration=fmt_duration,
    percent=fmt_percent,
    time=fmt_time,
    change=fmt_change,
)
# Pages between the reports and Settings in the navigation.
EXTRA_PAGES = [("/dashboard/work", "Work sessions"), ("/dashboard/privacy", "Privacy")]
templates.env.globals.update(
    range_labels=RANGE_LABELS, none_value=NONE_VALUE, extra_pages=EXTRA_PAGES
)
