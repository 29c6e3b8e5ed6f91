"""Sessions: the searchable, paginated table, and a session's page (timeline, counters, actions)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from sessionhub.clock import from_ms
from sessionhub.core.analytics.query import resolve_range
from sessionhub.dashboard.web import Ctx, CtxDep, hx_redirect
from sessionhub.errors import InvalidInput
from sessionhub.models import SessionFilter
from sessionhub.models.analytics import Between

router = APIRouter()

STATUSES = ("active", "ended")
KINDS = ("visit", "conversation", "work")
DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot")
PAGE_SIZE = 50


def table_filter(ctx: Ctx) -> tuple[SessionFilter, dict[str, str]]:
    """The GET /v1/sessions filter of the table's controls and the view's date range."""
    params = ctx.request.query_params
    chosen = {
        name: params.get(name, "")[:200]
        for name in ("status", "kind", "device_type", "entry_page", "q")
    }
    values: dict[str, Any] = {}
    for name, allowed in (("status", STATUSES), ("kind", KINDS), ("device_type", DEVICE_TYPES)):
        if chosen[name] in allowed:
            values[name] = chosen[name]
    if chosen["entry_page"]:
        values["entry_page"] = chosen["entry_page"]
    query = chosen["q"].strip()
    if query:
        # A device id looks like a UUID or a hash; anything else is taken as a user id.
        values["device_id" if query.startswith("dev:") else "user_id"] = query.removeprefix("dev:")
    if ctx.view.range != "all":
        values["started_from"], values["started_to"] = _range_times(ctx)
    try:
        return SessionFilter(**values), chosen
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc


def _range_times(ctx: Ctx) -> tuple[datetime, datetime]:
    assert ctx.app is not None
    zone = ZoneInfo(ctx.app.settings.timezone)
    spec: Any = ctx.view.date_range
    if isinstance(spec, dict):
        try:
            spec = Between.model_validate(spec)
        except ValidationError as exc:
            raise InvalidInput.from_validation(exc, prefix=("date_range",)) from exc
    lo, hi = resolve_range(spec, zone, ctx.engine.clock.now_ms(), None)
    return from_ms(lo), from_ms(hi)  # started_to is exclusive, as the range's end


@router.get("/sessions")
async def sessions_table(ctx: CtxDep) -> Response:
    """The sessions table (the rows alone for htmx's "more")."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    filters, chosen = table_filter(ctx)
    cursor = ctx.request.query_params.get("cursor") or None
    page = await ctx.engine.sessions.list(
        ctx.app_id, filters, limit=PAGE_SIZE, cursor=cursor and cursor[:200]
    )
    values: dict[str, Any] = {
        "page": page,
        "chosen": chosen,
        "statuses": STATUSES,
        "kinds": KINDS,
        "device_types": DEVICE_TYPES,
        "more_qs": ctx.view.qs(extra={**chosen, "cursor": page.next_cursor or ""}),
    }
    if not page.items and cursor is None:
        # Only for an empty page: tells "nothing matches" from "nothing yet" (the snippet).
        values["empty_app"] = (await ctx.engine.analytics.app_stats(ctx.app_id)).total == 0
    if ctx.request.headers.get("hx-request") and cursor:
        return ctx.render("sessions_rows.html", **values)
    return ctx.render("sessions.html", **values)


@router.get("/sessions/{session_id}")
async def session_page(ctx: CtxDep, session_id: str) -> Response:
    """One session: its journey, device, country, source, consent and counters."""
    app_id = ctx.app_id
    session = await ctx.engine.sessions.get(app_id, session_id[:200])
    timeline, engagement = await asyncio.gather(
        ctx.engine.events.timeline(app_id, session.id, limit=500),
        ctx.engine.analytics.session_engagement(app_id, session.id),
    )
    consent = None
    if session.device_id or session.user_id:
        consent = await ctx.engine.consent.get(
            app_id, device_id=session.device_id, user_id=session.user_id
        )
    return ctx.render(
        "session.html",
        session=session,
        timeline=timeline,
        engagement=engagement,
        consent=consent,
    )


@router.post("/sessions/{session_id}/end")
async def end_session(ctx: CtxDep, session_id: str) -> Response:
    """End a running session (reason: logout)."""
    session = await ctx.engine.sessions.end(ctx.app_id, session_id[:200])
    return hx_redirect(ctx.request, f"/dashboard/sessions/{quote(session.id)}")


@router.post("/sessions/{session_id}/revoke")
async def revoke_session(ctx: CtxDep, session_id: str) -> Response:
    """Revoke a session: it ends now and every later use of it fails."""
    session = await ctx.engine.sessions.revoke(ctx.app_id, session_id[:200])
    return hx_redirect(ctx.request, f"/dashboard/sessions/{quote(session.id)}")
