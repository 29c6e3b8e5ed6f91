"""Session lifecycle endpoints under /v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.context import client_of
from sessionhub.api.params import (
    AppCaller,
    Cursor,
    DevicePath,
    Limit,
    SecretCaller,
    SessionPath,
    UserPath,
)
from sessionhub.api.responses import json_response
from sessionhub.errors import Forbidden, InvalidInput
from sessionhub.models import (
    SESSION_ID_PATTERN,
    ActiveSessions,
    Identified,
    Identify,
    Page,
    Revoked,
    Session,
    SessionCreate,
    SessionEnd,
    SessionFilter,
    SessionKind,
    SessionStatus,
    SessionUpdate,
    Validation,
)

router = APIRouter(prefix="/v1", tags=["sessions"])


def session_filter(**values: Any) -> SessionFilter:
    """The filter of query and path values; one the model refuses (a NUL character) is a 422."""
    try:
        return SessionFilter(**values)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc


@router.post(
    "/sessions", response_model=Session, status_code=201, responses={200: {"model": Session}}
)
async def create_session(body: SessionCreate, request: Request, caller: AppCaller) -> Response:
    """Start a session. With your own ``id`` (secret keys only) this is get-or-create: 200 if it existed."""
    if body.id is not None and caller.kind != "secret":
        raise Forbidden("A publishable key cannot choose a session id.", details={"field": "id"})
    session, created = await get_engine(request).sessions.create(
        app_id_of(caller), body, client=client_of(request)
    )
    return json_response(session, status=201 if created else 200)


# Routes are matched one by one, in order: the hottest paths come first.
@router.post("/sessions/{session_id}/heartbeat", response_model=Session)
async def heartbeat(session_id: SessionPath, request: Request, caller: AppCaller) -> Response:
    """Record activity. 409 session_ended once the session is over."""
    return json_response(
        await get_engine(request).sessions.heartbeat(app_id_of(caller), session_id)
    )


@router.post("/sessions/{session_id}/validate", response_model=Validation)
async def validate(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """Is the session valid, why not, and until when? A valid one slides its idle expiry."""
    return json_response(await get_engine(request).sessions.validate(app_id_of(caller), session_id))


@router.get("/sessions", response_model=Page[Session])
async def list_sessions(
    request: Request,
    caller: SecretCaller,
    status: SessionStatus | None = None,
    kind: SessionKind | None = None,
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    device_id: Annotated[str | None, Query(max_length=200)] = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    entry_page: Annotated[str | None, Query(max_length=2048)] = None,
    device_type: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """List and search sessions, newest first."""
    filters = session_filter(
        status=status,
        kind=kind,
        user_id=user_id,
        device_id=device_id,
        started_from=started_from,
        started_to=started_to,
        entry_page=entry_page,
        device_type=device_type,
    )
    page = await get_engine(request).sessions.list(
        app_id_of(caller), filters, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.get("/sessions/active", response_model=ActiveSessions)
async def active_sessions(
    request: Request, caller: SecretCaller, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Sessions active now: the count and a page of them."""
    return json_response(
        await get_engine(request).sessions.active(app_id_of(caller), limit=limit, cursor=cursor)
    )


@router.get("/sessions/{session_id}", response_model=Session)
async def get_session(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """One session as it is now (an idle or expired one reads as ended)."""
    return json_response(await get_engine(request).sessions.get(app_id_of(caller), session_id))


@router.patch("/sessions/{session_id}", response_model=Session)
async def update_session(
    session_id: SessionPath, body: SessionUpdate, request: Request, caller: SecretCaller
) -> Response:
    """Merge-patch the metadata (RFC 7396) and/or set the user id."""
    return json_response(
        await get_engine(request).sessions.update(app_id_of(caller), session_id, body)
    )


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(
    session_id: SessionPath, request: Request, caller: SecretCaller
) -> Response:
    """Delete the session and, soon after, everything that belongs to it."""
    await get_engine(request).sessions.delete(app_id_of(caller), session_id)
    return Response(status_code=204)


@router.post("/sessions/{session_id}/refresh", response_model=Session)
async def refresh(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """Extend the idle window from now (never past the absolute lifetime)."""
    return json_response(await get_engine(request).sessions.refresh(app_id_of(caller), session_id))


@router.post("/sessions/{session_id}/end", response_model=Session)
async def end(
    session_id: SessionPath, request: Request, caller: AppCaller, body: SessionEnd | None = None
) -> Response:
    """End the session with a reason, exit page and last action."""
    return json_response(
        await get_engine(request).sessions.end(app_id_of(caller), session_id, body)
    )


@router.post("/sessions/{session_id}/revoke", response_model=Session)
async def revoke(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """End the session at once with reason ``revoked``."""
    return json_response(await get_engine(request).sessions.revoke(app_id_of(caller), session_id))


@router.post("/sessions/{session_id}/rotate", response_model=Session)
async def rotate(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """Give the session a new id (on login); the old id stops working at once."""
    return json_response(await get_engine(request).sessions.rotate(app_id_of(caller), session_id))


@router.get("/users/{user_id}/sessions", response_model=Page[Session])
async def user_sessions(
    user_id: UserPath,
    request: Request,
    caller: SecretCaller,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The user's session history across all linked devices, newest first."""
    page = await get_engine(request).sessions.list(
        app_id_of(caller), session_filter(user_id=user_id), limit=limit, cursor=cursor
    )
    return json_response(page)


@router.get("/users/{user_id}/sessions/current", response_model=Session)
async def current_session(user_id: UserPath, request: Request, caller: SecretCaller) -> Response:
    """The user's most recently active running session (404 when there is none)."""
    return json_response(await get_engine(request).sessions.current(app_id_of(caller), user_id))


@router.post("/users/{user_id}/revoke", response_model=Revoked)
async def revoke_user(user_id: UserPath, request: Request, caller: SecretCaller) -> Response:
    """Revoke every running session of the user (e.g. on password change or account deletion)."""
    return json_response(await get_engine(request).sessions.revoke_user(app_id_of(caller), user_id))


@router.get("/devices/{device_id}/sessions", response_model=Page[Session])
async def device_sessions(
    device_id: DevicePath,
    request: Request,
    caller: SecretCaller,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Sessions of one device id or fingerprint hash, newest first."""
    page = await get_engine(request).sessions.list(
        app_id_of(caller), session_filter(device_id=device_id), limit=limit, cursor=cursor
    )
    return json_response(page)


@router.post("/identify", response_model=Identified)
async def identify(body: Identify, request: Request, caller: SecretCaller) -> Response:
    """Link a device to a user (cross-device history); optionally rotate the login session's id."""
    return json_response(await get_engine(request).sessions.identify(app_id_of(caller), body))


__all__ = ["SESSION_ID_PATTERN", "router"]
