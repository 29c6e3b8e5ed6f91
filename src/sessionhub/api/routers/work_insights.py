"""Templates, insights and live streams of work sessions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from sessionhub.api.params import SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.api.routers.work_params import Actor, TemplatePath, WorkCaller
from sessionhub.core.work.notify import session_topic, user_topic
from sessionhub.errors import Forbidden, InvalidInput
from sessionhub.models.work import (
    Learning,
    Suggestions,
    Template,
    TemplateCreate,
    TemplateSpec,
    WorkAnalytics,
)

router = APIRouter(prefix="/v1/work", tags=["work"])
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}
}
MaxSeconds = Annotated[
    float | None,
    Query(ge=0, le=86400, description="Close the stream after this many seconds (default: never)."),
]


@router.get("/templates", response_model=list[Template])
async def list_templates(actor: WorkCaller) -> Response:
    """The built-in templates, the app's and the acting user's own (latest versions)."""
    templates = await actor.work.templates.list(actor.app_id, actor.user_id)
    return json_response([t.model_dump(mode="json") for t in templates])


@router.post("/templates", response_model=Template, status_code=201)
async def create_template(body: TemplateCreate, actor: WorkCaller) -> Response:
    """A custom template, from a spec or saved from a session (version 1)."""
    template = await actor.work.templates.create(actor.app_id, actor.user_id, body)
    return json_response(template, status=201)


@router.get("/templates/{template_id}", response_model=Template)
async def get_template(
    template_id: TemplatePath,
    actor: WorkCaller,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """A template at a version (default: the latest)."""
    return json_response(
        await actor.work.templates.get(actor.app_id, actor.user_id, template_id, version)
    )


@router.put("/templates/{template_id}", response_model=Template)
async def update_template(
    template_id: TemplatePath, body: TemplateSpec, actor: WorkCaller
) -> Response:
    """Store a new version (its creator only); sessions keep the version they were made from."""
    template = await actor.work.templates.update(
        actor.app_id, actor.user_id, template_id, body.model_dump()
    )
    return json_response(template)


@router.get("/templates/{template_id}/versions", response_model=list[Template])
async def template_versions(template_id: TemplatePath, actor: WorkCaller) -> Response:
    """Every version of a template, newest first."""
    versions = await actor.work.templates.versions(actor.app_id, actor.user_id, template_id)
    return json_response([t.model_dump(mode="json") for t in versions])


@router.get("/users/{user_id}/suggestions", response_model=Suggestions)
async def suggestions(user_id: UserPath, actor: WorkCaller) -> Response:
    """Templates ranked for the user from their history, with calibrated durations."""
    return json_response(
        await actor.work.insights.suggestions(actor.app_id, actor.user_id, user_id)
    )


@router.get("/users/{user_id}/analytics", response_model=WorkAnalytics)
async def user_analytics(user_id: UserPath, actor: WorkCaller) -> Response:
    """The user's completion rate, estimate accuracy, pace, time by category and blockers."""
    return json_response(
        await actor.work.insights.user_analytics(actor.app_id, actor.user_id, user_id)
    )


@router.get("/users/{user_id}/learning", response_model=Learning)
async def learning(user_id: UserPath, actor: WorkCaller) -> Response:
    """Skills over time with their trend, and effectiveness by time of day and length."""
    return json_response(await actor.work.insights.learning(actor.app_id, actor.user_id, user_id))


@router.get("/analytics", response_model=WorkAnalytics)
async def team_analytics(
    actor: WorkCaller,
    user_id: Annotated[
        list[str] | None,
        Query(description="The team's users (repeat, at most 200); default: everyone."),
    ] = None,
) -> Response:
    """Analytics of a team's work sessions taken together."""
    if user_id is not None and (
        len(user_id) > 200 or any(not 1 <= len(u) <= 200 or "\x00" in u for u in user_id)
    ):
        raise InvalidInput(
            "Give at most 200 user ids of 1-200 characters.", details={"field": "user_id"}
        )
    return json_response(await actor.work.insights.analytics(actor.app_id, actor.user_id, user_id))


async def _events(actor: Actor, topic: str, max_s: float | None) -> AsyncIterator[dict[str, Any]]:
    deadline = time.monotonic() + max_s if max_s is not None else None
    async with actor.engine.live.subscribe(topic) as queue:
        yield {"event": "ready", "data": orjson.dumps({"topic": topic}).decode()}
        while True:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                return
            yield {"event": event["type"], "data": orjson.dumps(event).decode()}


@router.get("/sessions/{session_id}/live", response_class=Response, responses=_STREAM)
async def session_live(
    session_id: SessionPath, actor: WorkCaller, max_s: MaxSeconds = None
) -> Response:
    """Live events of one session (status, progress, goals, comments …) as Server-Sent Events."""
    await actor.work.sessions.get(actor.app_id, actor.user_id, session_id)  # members only
    topic = session_topic(actor.app_id, session_id)
    return EventSourceResponse(_events(actor, topic, max_s))


@router.get("/users/{user_id}/live", response_class=Response, responses=_STREAM)
async def user_live(user_id: UserPath, actor: WorkCaller, max_s: MaxSeconds = None) -> Response:
    """Live events of every session the user is a member of (the user only)."""
    if actor.user_id != user_id:
        raise Forbidden(
            "Only the user themselves may follow their live events.",
            code="not_this_user",
            details={"user_id": user_id, "actor": actor.user_id},
        )
    return EventSourceResponse(_events(actor, user_topic(actor.app_id, user_id), max_s))
