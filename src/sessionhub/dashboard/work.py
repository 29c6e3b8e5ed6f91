"""Work sessions: a board by status with progress and quick actions, creation from a
template, a session's page (goals, milestones, blockers, comments, people), all live.

Work sessions belong to people: every call names an acting user, as the API's
X-Sessionhub-User header does. The board acts as the user in ``?as=`` (by default the
owner of the newest work session) and shows what that user owns or collaborates on.
Changes reach open boards through the live bus (the same events the API streams).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse

from sessionhub.core.work.notify import session_topic, user_topic
from sessionhub.dashboard.web import Ctx, CtxDep, SignInRequired, current, hx_redirect
from sessionhub.errors import InvalidInput
from sessionhub.models import SessionFilter
from sessionhub.models.work import CommentCreate, WorkCreate, WorkSession

router = APIRouter()

COLUMNS = ("draft", "active", "paused", "completed", "cancelled")
PRIORITIES = ("urgent", "high", "medium", "low")
BOARD_SIZE = 200
ACTIONS = {"active": "Start", "paused": "Pause", "completed": "Complete", "cancelled": "Cancel"}


async def actor_of(ctx: Ctx) -> str | None:
    """The acting user: ``?as=``, else the owner of the newest work session, else None."""
    chosen = ctx.request.query_params.get("as", "").strip()[:200]
    if chosen:
        return chosen
    newest = await ctx.engine.sessions.list(ctx.app_id, SessionFilter(kind="work"), limit=1)
    return newest.items[0].user_id if newest.items else None


def _as(actor: str) -> str:
    return "?" + urlencode({"as": actor})


async def _board(ctx: Ctx, actor: str) -> dict[str, Any]:
    work = ctx.engine.work
    page = await work.search.list(ctx.app_id, actor, sort="-priority", limit=BOARD_SIZE)
    progress = await asyncio.gather(
        *(work.progress.get(ctx.app_id, actor, item.id) for item in page.items)
    )
    cards = list(zip(page.items, progress, strict=True))
    columns = {status: [c for c in cards if c[0].status == status] for status in COLUMNS}
    return {"columns": columns, "actor": actor, "as_qs": _as(actor), "actions": ACTIONS}


@router.get("/work")
async def board(ctx: CtxDep) -> Response:
    """The acting user's work sessions by status (just the board for htmx's refresh)."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    actor = await actor_of(ctx)
    if actor is None:
        return ctx.render("work_board.html", actor=None, templates=[], priorities=PRIORITIES)
    values = await _board(ctx, actor)
    if ctx.request.headers.get("hx-request"):
        return ctx.render("work_columns.html", **values)
    found = await ctx.engine.work.templates.list(ctx.app_id, actor)
    return ctx.render("work_board.html", templates=found, priorities=PRIORITIES, **values)


@router.post("/work")
async def create(
    ctx: CtxDep,
    actor: Annotated[str, Form(alias="as", max_length=200)],
    template_id: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    priority: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Create a draft from a template (or blank, with a name), owned by the acting user."""
    try:
        spec = WorkCreate(
            template_id=template_id or None,
            name=name.strip() or None,
            priority=priority or None,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc
    made = await ctx.engine.work.sessions.create(ctx.app_id, actor, spec)
    return hx_redirect(ctx.request, f"/dashboard/work/{quote(made.id)}{_as(actor)}")


@router.post("/work/{session_id}/transition")
async def transition(
    ctx: CtxDep,
    session_id: str,
    actor: Annotated[str, Form(alias="as", max_length=200)],
    to: Annotated[str, Form(max_length=20)],
) -> Response:
    """Start, pause, complete or cancel (an illegal move is a 409 naming the legal ones)."""
    if to not in ACTIONS:
        raise InvalidInput(f"Unknown status {to!r}.", details={"field": "to"})
    await ctx.engine.work.sessions.transition(ctx.app_id, actor, session_id[:200], to)
    return _back(ctx.request, session_id, actor)


@router.post("/work/{session_id}/delete")
async def delete(
    ctx: CtxDep, session_id: str, actor: Annotated[str, Form(alias="as", max_length=200)]
) -> Response:
    """Archive the session and remove it for good (owners only)."""
    lifecycle = ctx.engine.work.sessions
    found = await lifecycle.get(ctx.app_id, actor, session_id[:200])
    if found.status != "archived":
        await lifecycle.archive(ctx.app_id, actor, found.id)
    await lifecycle.purge(ctx.app_id, actor, found.id)
    return hx_redirect(ctx.request, f"/dashboard/work{_as(actor)}")


@router.post("/work/{session_id}/comments")
async def comment(
    ctx: CtxDep,
    session_id: str,
    actor: Annotated[str, Form(alias="as", max_length=200)],
    body: Annotated[str, Form(max_length=20_000)],
) -> Response:
    """Add a comment as the acting user."""
    try:
        req = CommentCreate(body=body)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc
    await ctx.engine.work.comments.add(ctx.app_id, actor, session_id[:200], req)
    return hx_redirect(ctx.request, f"/dashboard/work/{quote(session_id)}{_as(actor)}")


def _back(request: Request, session_id: str, actor: str) -> Response:
    """Back to the page the action came from: the board or the session."""
    if "/dashboard/work/" in request.headers.get("referer", ""):
        return hx_redirect(request, f"/dashboard/work/{quote(session_id)}{_as(actor)}")
    return hx_redirect(request, f"/dashboard/work{_as(actor)}")


async def _session_values(ctx: Ctx, actor: str, session_id: str) -> dict[str, Any]:
    work, app_id = ctx.engine.work, ctx.app_id
    session: WorkSession = await work.sessions.get(app_id, actor, session_id[:200])
    goals, milestones, blockers, comments, members, progress = await asyncio.gather(
        work.goals.list(app_id, actor, session.id),
        work.milestones.list(app_id, actor, session.id),
        work.blockers.list(app_id, actor, session.id),
        work.comments.list(app_id, actor, session.id, limit=200),
        work.collaborators.list(app_id, actor, session.id),
        work.progress.get(app_id, actor, session.id),
    )
    return {
        "session": session,
        "goals": goals,
        "milestones": milestones,
        "blockers": blockers,
        "comments": comments,
        "members": members,
        "progress": progress,
        "actor": actor,
        "as_qs": _as(actor),
        "actions": ACTIONS,
    }


@router.get("/work/{session_id}")
async def session_page(ctx: CtxDep, session_id: str) -> Response:
    """One work session: goals, milestones, blockers, comments and collaborators."""
    actor = await actor_of(ctx)
    if actor is None:
        raise InvalidInput("Say which user to act as (?as=user id).", details={"field": "as"})
    values = await _session_values(ctx, actor, session_id)
    if ctx.request.headers.get("hx-request"):
        return ctx.render("work_detail.html", **values)
    return ctx.render("work_session.html", **values)


@router.get("/work-live")
async def live(request: Request) -> Response:
    """Server-Sent Events: ``changed`` whenever a session of the acting user (or the one
    session in ``?session=``) changes, so open boards and pages refresh themselves."""
    try:
        ctx = await current(request)
    except SignInRequired:
        return Response(status_code=401)
    actor = await actor_of(ctx)
    if actor is None:
        return Response(status_code=204)
    wanted = request.query_params.get("session", "")[:200]
    topic = session_topic(ctx.app_id, wanted) if wanted else user_topic(ctx.app_id, actor)

    async def stream() -> AsyncIterator[dict[str, str]]:
        async with ctx.engine.live.subscribe(topic) as queue:
            yield {"event": "ready", "data": "{}"}
            while True:
                event = await queue.get()
                brief = {"type": event.get("type"), "session_id": event.get("session_id")}
                yield {"event": "changed", "data": orjson.dumps(brief).decode()}

    return EventSourceResponse(stream(), ping=15)
