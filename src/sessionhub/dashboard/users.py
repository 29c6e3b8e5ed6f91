"""Users: find one, see their profile, devices, sessions, pattern and consent; export or erase."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from sessionhub.dashboard.web import CtxDep, hx_redirect, secured
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models import SessionFilter
from sessionhub.models.privacy import SubjectIn

router = APIRouter()

RECENT = 200


def _subject(user_id: str) -> SubjectIn:
    try:
        return SubjectIn(user_id=user_id)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc


@router.get("/users")
async def users(ctx: CtxDep) -> Response:
    """Recently seen users, and a search by user id."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    wanted = ctx.request.query_params.get("q", "").strip()[:200]
    if wanted:
        return hx_redirect(ctx.request, f"/dashboard/users/{quote(wanted, safe='')}")
    recent = await ctx.engine.sessions.list(ctx.app_id, SessionFilter(), limit=RECENT)
    seen: dict[str, object] = {}
    for session in recent.items:
        if session.user_id and session.user_id not in seen:
            seen[session.user_id] = session
    erased = ctx.request.query_params.get("erased", "")[:200]
    return ctx.render("users.html", recent=list(seen.values()), erased=erased)


@router.get("/users/{user_id}")
async def user_page(ctx: CtxDep, user_id: str) -> Response:
    """A user's profile: devices, sessions, pattern with its indicators, consent log."""
    app_id = ctx.app_id
    subject = _subject(user_id)
    summary, sessions, consent_log = await asyncio.gather(
        ctx.engine.subjects.find(app_id, subject),
        ctx.engine.sessions.list(app_id, SessionFilter(user_id=user_id), limit=50),
        ctx.engine.consent.log(app_id, user_id=user_id, limit=100),
    )
    if summary.first_seen is None and not consent_log.items:
        raise NotFound(f"No user {user_id!r} in this app.", details={"user_id": user_id})
    try:
        patterns = await ctx.engine.analytics.user_patterns(app_id, user_id)
    except NotFound:
        patterns = None
    consent = await ctx.engine.consent.get(app_id, user_id=user_id)
    return ctx.render(
        "user.html",
        user_id=user_id,
        summary=summary,
        sessions=sessions,
        patterns=patterns,
        consent=consent,
        consent_log=consent_log,
    )


@router.post("/users/{user_id}/export")
async def export_user(ctx: CtxDep, user_id: str) -> Response:
    """Download everything stored about the user as JSON (logged as a subject request)."""
    chunks = await ctx.engine.subjects.export(
        ctx.app_id, _subject(user_id), actor=f"dashboard:{ctx.login.key_id}"
    )
    name = "".join(c for c in user_id if c.isalnum() or c in "-_")[:60] or "user"
    response = StreamingResponse(
        chunks,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="sessionhub-{name}.json"'},
    )
    return secured(response)


@router.post("/users/{user_id}/erase")
async def erase_user(
    ctx: CtxDep, user_id: str, confirm: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Erase the user everywhere, once the form repeats their id."""
    if confirm != user_id:
        raise InvalidInput("Type the user id to confirm the erasure.", details={"field": "confirm"})
    await ctx.engine.subjects.erase(
        ctx.app_id, _subject(user_id), actor=f"dashboard:{ctx.login.key_id}"
    )
    return hx_redirect(ctx.request, f"/dashboard/users?erased={quote(user_id, safe='')}")
