"""Consent, data subjects (find, export, erase) and the privacy report under /v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import AppCaller, Cursor, Limit, SecretCaller
from sessionhub.api.responses import json_response
from sessionhub.core.audit import actor_of
from sessionhub.errors import Forbidden, InvalidInput
from sessionhub.models import Page
from sessionhub.models.privacy import (
    ConsentIn,
    ConsentLogEntry,
    ConsentState,
    Erasure,
    PrivacyReport,
    SubjectIn,
    SubjectSummary,
)

router = APIRouter(prefix="/v1", tags=["privacy"])

SubjectQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


def _subject(**values: Any) -> SubjectIn:
    try:
        return SubjectIn(**values)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc


@router.post("/consent", response_model=ConsentState)
async def set_consent(body: ConsentIn, request: Request, caller: AppCaller) -> Response:
    """Grant or withdraw consent per purpose for a device (publishable or secret key) or a
    user (secret key). A ``Sec-GPC: 1`` header also opts the device out of sale/sharing."""
    if caller.kind == "publishable" and body.user_id is not None:
        raise Forbidden(
            "A publishable key sets a device's consent; a user's needs a secret key.",
            details={"field": "user_id"},
        )
    engine = get_engine(request)
    app_id = app_id_of(caller)
    source = "tracker" if caller.kind == "publishable" else "api"
    if request.headers.get("sec-gpc", "").strip() == "1":
        await engine.consent.gpc(app_id, body.device_id, body.user_id)
    state = await engine.consent.set(app_id, body, source=source, actor=actor_of(caller))
    return json_response(state)


@router.get("/consent", response_model=ConsentState)
async def get_consent(
    request: Request,
    caller: SecretCaller,
    device_id: SubjectQuery = None,
    user_id: SubjectQuery = None,
) -> Response:
    """A device's and/or user's consent records and what applies to them now."""
    state = await get_engine(request).consent.get(
        app_id_of(caller), device_id=device_id, user_id=user_id
    )
    return json_response(state)


@router.get("/consent/log", response_model=Page[ConsentLogEntry])
async def consent_log(
    request: Request,
    caller: SecretCaller,
    device_id: SubjectQuery = None,
    user_id: SubjectQuery = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every consent change of a device and/or user, oldest first: what, when, who and how."""
    page = await get_engine(request).consent.log(
        app_id_of(caller), device_id=device_id, user_id=user_id, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.get("/subjects", response_model=SubjectSummary)
async def find_subject(
    request: Request,
    caller: SecretCaller,
    user_id: SubjectQuery = None,
    device_id: SubjectQuery = None,
) -> Response:
    """Everything stored about a user or a device, counted per kind of record."""
    subject = _subject(user_id=user_id, device_id=device_id)
    return json_response(await get_engine(request).subjects.find(app_id_of(caller), subject))


@router.get(
    "/subjects/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}, "description": "The export."}},
)
async def export_subject(
    request: Request,
    caller: SecretCaller,
    user_id: SubjectQuery = None,
    device_id: SubjectQuery = None,
) -> StreamingResponse:
    """Every stored record of a user or a device as one JSON document, streamed (GDPR
    Art. 15/20): a section per kind of record, each saying what the records mean."""
    subject = _subject(user_id=user_id, device_id=device_id)
    chunks = await get_engine(request).subjects.export(
        app_id_of(caller), subject, actor=actor_of(caller)
    )
    return StreamingResponse(
        chunks,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="subject-export.json"'},
    )


@router.post("/subjects/erase", response_model=Erasure)
async def erase_subject(body: SubjectIn, request: Request, caller: SecretCaller) -> Response:
    """Erase a user or a device from every table (GDPR Art. 17): their sessions end at once,
    rollups are recomputed without them, and an export afterwards is empty."""
    erasure = await get_engine(request).subjects.erase(
        app_id_of(caller), body, actor=actor_of(caller)
    )
    return json_response(erasure)


@router.get("/privacy/report", response_model=PrivacyReport)
async def privacy_report(request: Request, caller: SecretCaller) -> Response:
    """Subjects, consent rates by purpose, requests served and their durations, retention."""
    return json_response(await get_engine(request).privacy.report(app_id_of(caller)))
