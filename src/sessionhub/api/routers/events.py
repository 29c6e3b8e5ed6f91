"""Event ingestion and timelines under /v1."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.bodies import LargeBodyRoute
from sessionhub.api.context import client_of
from sessionhub.api.params import AppCaller, Cursor, Limit, SecretCaller, SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.errors import SessionhubError, error_class_for
from sessionhub.models import Page
from sessionhub.models.events import Event, EventBatch, IngestResult, SessionEventBatch

router = APIRouter(prefix="/v1", tags=["events"], route_class=LargeBodyRoute)


def _answer(result: IngestResult, sent: int) -> Response:
    """200 with the outcome when anything was kept; when every event was rejected, the error."""
    if sent > 0 and result.accepted == 0 and result.duplicates == 0 and result.rejected:
        first = result.rejected[0]
        cls = error_class_for(first.code, 422)
        error = SessionhubError(
            first.message
            if len(result.rejected) == 1
            else f"All {sent} events were rejected; first: {first.message}",
            code=first.code,
            details={"rejected": [r.model_dump(mode="json") for r in result.rejected]},
        )
        return json_response(error.to_dict(), status=cls.status)
    return json_response(result)


@router.post("/events", response_model=IngestResult)
async def ingest(body: EventBatch, request: Request, caller: AppCaller) -> Response:
    """Store up to 500 events (any sessions). Each is checked alone: good ones are kept,
    bad ones come back by index with a code; resending a batch stores nothing twice."""
    result = await get_engine(request).events.ingest(
        app_id_of(caller), body.events, client=client_of(request)
    )
    return _answer(result, len(body.events))


@router.post("/sessions/{session_id}/events", response_model=IngestResult)
async def ingest_for_session(
    session_id: SessionPath, body: SessionEventBatch, request: Request, caller: AppCaller
) -> Response:
    """Store up to 500 events of one session. 409 session_ended when it is over."""
    result = await get_engine(request).events.ingest(
        app_id_of(caller), body.events, session_id=session_id, client=client_of(request)
    )
    return _answer(result, len(body.events))


@router.get("/sessions/{session_id}/events", response_model=Page[Event])
async def timeline(
    session_id: SessionPath,
    request: Request,
    caller: SecretCaller,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The session's timeline: its events in order, with the seconds between them."""
    page = await get_engine(request).events.timeline(
        app_id_of(caller), session_id, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.get("/users/{user_id}/events", response_model=Page[Event])
async def user_events(
    user_id: UserPath,
    request: Request,
    caller: SecretCaller,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """A user's events across all their sessions and devices, oldest first."""
    page = await get_engine(request).events.for_user(
        app_id_of(caller), user_id, limit=limit, cursor=cursor
    )
    return json_response(page)
