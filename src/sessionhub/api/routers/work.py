"""Work sessions under /v1/work: create, read, update, transition, archive, purge, search
and people. Every call takes a secret key and the acting user (X-Sessionhub-User)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sessionhub.api.params import Cursor, Limit, SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.api.routers.work_params import IfMatch, WorkCaller, versioned
from sessionhub.models import Page
from sessionhub.models.work import (
    MemberAdd,
    MemberRole,
    Members,
    Priority,
    Transition,
    WorkCreate,
    WorkSession,
    WorkSort,
    WorkStatus,
    WorkUpdate,
)

router = APIRouter(prefix="/v1/work", tags=["work"])
_ETAG = {"ETag": {"description": "The version, for If-Match.", "schema": {"type": "string"}}}
Text200 = Annotated[str | None, Query(max_length=200)]


@router.post(
    "/sessions",
    response_model=WorkSession,
    status_code=201,
    responses={201: {"headers": _ETAG}},
)
async def create_work_session(body: WorkCreate, actor: WorkCaller) -> Response:
    """Create a draft, blank or from a template; the acting user owns it.

    Every /v1/work call takes a secret key and names the acting user (your user's id) in
    the X-Sessionhub-User header: 401 actor_required without it.
    """
    session = await actor.work.sessions.create(actor.app_id, actor.user_id, body)
    return versioned(session, session.version, 201)


@router.get("/sessions", response_model=Page[WorkSession])
async def search_work_sessions(
    actor: WorkCaller,
    q: Annotated[str | None, Query(max_length=500, description="Words to find.")] = None,
    status: WorkStatus | None = None,
    priority: Priority | None = None,
    type: Annotated[str | None, Query(max_length=40)] = None,
    template_id: Annotated[str | None, Query(max_length=40)] = None,
    owner: Text200 = None,
    collaborator: Text200 = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort: WorkSort = "-created_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Search the acting user's work sessions: full text over name, description, goals and
    comments, with filters, sorting and cursor pagination (archived ones only when asked)."""
    page = await actor.work.search.list(
        actor.app_id,
        actor.user_id,
        q=q,
        status=status,
        priority=priority,
        type=type,
        template_id=template_id,
        owner=owner,
        collaborator=collaborator,
        created_from=created_from,
        created_to=created_to,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return json_response(page)


@router.get(
    "/sessions/{session_id}", response_model=WorkSession, responses={200: {"headers": _ETAG}}
)
async def get_work_session(session_id: SessionPath, actor: WorkCaller) -> Response:
    """One work session, with its ETag."""
    session = await actor.work.sessions.get(actor.app_id, actor.user_id, session_id)
    return versioned(session, session.version)


@router.patch(
    "/sessions/{session_id}", response_model=WorkSession, responses={200: {"headers": _ETAG}}
)
async def update_work_session(
    session_id: SessionPath, body: WorkUpdate, expected: IfMatch, actor: WorkCaller
) -> Response:
    """Change the plan (collaborators, owners). With If-Match, a stale version is a 409
    version_mismatch carrying the current state."""
    session = await actor.work.sessions.update(
        actor.app_id, actor.user_id, session_id, body, expected
    )
    return versioned(session, session.version)


@router.delete(
    "/sessions/{session_id}", response_model=WorkSession, responses={200: {"headers": _ETAG}}
)
async def archive_work_session(
    session_id: SessionPath, expected: IfMatch, actor: WorkCaller
) -> Response:
    """Archive the session (owners; from any state): it becomes read-only."""
    session = await actor.work.sessions.archive(actor.app_id, actor.user_id, session_id, expected)
    return versioned(session, session.version)


@router.post("/sessions/{session_id}/purge", status_code=204)
async def purge_work_session(session_id: SessionPath, actor: WorkCaller) -> Response:
    """Remove an archived session for good, with its comments and files (owners)."""
    await actor.work.sessions.purge(actor.app_id, actor.user_id, session_id)
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/transition",
    response_model=WorkSession,
    responses={200: {"headers": _ETAG}},
)
async def transition_work_session(
    session_id: SessionPath, body: Transition, expected: IfMatch, actor: WorkCaller
) -> Response:
    """Start, pause, resume, complete or cancel (owners). An illegal move is a 409
    illegal_transition listing the allowed ones."""
    session = await actor.work.sessions.transition(
        actor.app_id, actor.user_id, session_id, body.to, expected
    )
    return versioned(session, session.version)


@router.get("/sessions/{session_id}/members", response_model=Members)
async def list_members(session_id: SessionPath, actor: WorkCaller) -> Response:
    """Who is owner, collaborator or viewer."""
    return json_response(
        await actor.work.collaborators.list(actor.app_id, actor.user_id, session_id)
    )


@router.post("/sessions/{session_id}/members", response_model=Members)
async def add_member(session_id: SessionPath, body: MemberAdd, actor: WorkCaller) -> Response:
    """Add a member, or change their role (owners)."""
    members = await actor.work.collaborators.put(
        actor.app_id, actor.user_id, session_id, body.user_id, body.role
    )
    return json_response(members)


@router.put("/sessions/{session_id}/members/{user_id}", response_model=Members)
async def set_member_role(
    session_id: SessionPath, user_id: UserPath, body: MemberRole, actor: WorkCaller
) -> Response:
    """Set a member's role (owners; the last owner can't step down)."""
    members = await actor.work.collaborators.put(
        actor.app_id, actor.user_id, session_id, user_id, body.role
    )
    return json_response(members)


@router.delete("/sessions/{session_id}/members/{user_id}", response_model=Members)
async def remove_member(session_id: SessionPath, user_id: UserPath, actor: WorkCaller) -> Response:
    """Remove a member (owners; the last owner stays)."""
    members = await actor.work.collaborators.remove(
        actor.app_id, actor.user_id, session_id, user_id
    )
    return json_response(members)
