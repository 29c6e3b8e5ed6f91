"""Federation across apps under /v1/federation: grants, and the reads and writes they allow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import SecretCaller, SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.api.routers.experiments import checked_text
from sessionhub.core.audit import actor_of
from sessionhub.models.events import IngestResult
from sessionhub.models.personalization import (
    FederatedEventsIn,
    FederatedSession,
    Grant,
    GrantIn,
    Grants,
    Profile,
)

router = APIRouter(prefix="/v1/federation", tags=["federation"])

AppPath = Annotated[str, Path(description="The other app's id.", max_length=40)]
OwnerQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=40, description="The app that owns it (else any granting app)."),
]


@router.get("/grants", response_model=Grants)
async def list_grants(request: Request, caller: SecretCaller) -> Response:
    """Grants this app gave and received."""
    return json_response(
        await get_engine(request).personalization.federation.list(app_id_of(caller))
    )


@router.put("/grants/{app_id}", response_model=Grant)
async def put_grant(
    app_id: AppPath, body: GrantIn, request: Request, caller: SecretCaller
) -> Response:
    """Grant app ``app_id`` access to this app's sessions, events, profiles or event writes."""
    engine = get_engine(request)
    grant = await engine.personalization.federation.grant(
        app_id_of(caller), app_id, body, actor_of(caller)
    )
    return json_response(grant)


@router.delete("/grants/{app_id}", status_code=204)
async def delete_grant(app_id: AppPath, request: Request, caller: SecretCaller) -> Response:
    """Withdraw the grant to app ``app_id``."""
    engine = get_engine(request)
    await engine.personalization.federation.revoke(app_id_of(caller), app_id, actor_of(caller))
    return Response(status_code=204)


@router.get("/sessions/{session_id}", response_model=FederatedSession)
async def federated_session(
    session_id: SessionPath, request: Request, caller: SecretCaller, app_id: OwnerQuery = None
) -> Response:
    """A session of an app that granted ``sessions`` to this one (events, profile if granted)."""
    engine = get_engine(request)
    found = await engine.personalization.federation.session(
        app_id_of(caller), session_id, actor_of(caller), checked_text("app_id", app_id)
    )
    return json_response(found)


@router.get("/profiles/{user_id}", response_model=Profile)
async def federated_profile(
    user_id: UserPath, request: Request, caller: SecretCaller, app_id: OwnerQuery = None
) -> Response:
    """A user's profile in an app that granted ``profile`` to this one."""
    engine = get_engine(request)
    found = await engine.personalization.federation.profile(
        app_id_of(caller), user_id, actor_of(caller), checked_text("app_id", app_id)
    )
    return json_response(found)


@router.post("/events", response_model=IngestResult)
async def federated_events(
    body: FederatedEventsIn, request: Request, caller: SecretCaller
) -> Response:
    """Record events into another app's session (``write_events`` grant), tagged ``source_app``."""
    engine = get_engine(request)
    result = await engine.personalization.federation.record_events(
        app_id_of(caller), body, actor_of(caller)
    )
    return json_response(result)
