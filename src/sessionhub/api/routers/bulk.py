"""Bulk session operations: update or delete every session matching a filter (dry run first)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import SecretCaller
from sessionhub.api.responses import json_response
from sessionhub.core.audit import actor_of
from sessionhub.models.audit import BulkDelete, BulkResult, BulkUpdate

router = APIRouter(prefix="/v1", tags=["sessions"])


@router.post("/sessions/bulk/delete", response_model=BulkResult)
async def bulk_delete(body: BulkDelete, request: Request, caller: SecretCaller) -> Response:
    """Delete every matching session; with ``dry_run`` only count them. Audited."""
    result = await get_engine(request).bulk.delete(app_id_of(caller), body, actor=actor_of(caller))
    return json_response(result)


@router.post("/sessions/bulk/update", response_model=BulkResult)
async def bulk_update(body: BulkUpdate, request: Request, caller: SecretCaller) -> Response:
    """End and/or merge-patch the metadata of every matching session; ``dry_run`` counts. Audited."""
    result = await get_engine(request).bulk.update(app_id_of(caller), body, actor=actor_of(caller))
    return json_response(result)
