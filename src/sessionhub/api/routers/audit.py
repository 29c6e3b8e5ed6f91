"""The audit log: read with filters (admin keys: every app; secret keys: their own), verify."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import KeyAuth, get_engine
from sessionhub.api.params import AdminCaller, Cursor, Limit
from sessionhub.api.responses import json_response
from sessionhub.clock import to_ms
from sessionhub.core.apps import Caller
from sessionhub.errors import InvalidInput
from sessionhub.models.audit import AuditCheck, AuditEntry
from sessionhub.models.common import Page

router = APIRouter(prefix="/v1", tags=["audit"])

audit_reader = KeyAuth(
    frozenset({"admin", "secret"}), "The audit log needs an admin key or a secret key."
)
Reader = Annotated[Caller, Depends(audit_reader)]
Name = Annotated[str | None, Query(max_length=200)]


@router.get("/audit", response_model=Page[AuditEntry])
async def list_audit(
    request: Request,
    caller: Reader,
    app_id: Annotated[str | None, Query(max_length=40, description="Admin keys: one app.")] = None,
    actor: Name = None,
    action: Annotated[
        str | None,
        Query(max_length=60, description="An action, or a prefix ending in '.' (e.g. key.)."),
    ] = None,
    since: Annotated[datetime | None, Query(description="Entries at or after this.")] = None,
    until: Annotated[datetime | None, Query(description="Entries before this.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Audit entries, newest first. A secret key sees its own app's entries only."""
    for name, value in (("app_id", app_id), ("actor", actor), ("action", action)):
        if value is not None and "\x00" in value:
            # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the driver.
            raise InvalidInput(f"{name} may not contain NUL characters.", details={"field": name})
    if caller.kind == "secret":
        app_id = caller.app_id
    page = await get_engine(request).audit.list(
        app_id=app_id,
        actor=actor,
        action=action,
        since=to_ms(since) if since is not None else None,
        until=to_ms(until) if until is not None else None,
        limit=limit,
        cursor=cursor,
    )
    return json_response(page)


@router.get("/audit/verify", response_model=AuditCheck)
async def verify_audit(request: Request, caller: AdminCaller) -> Response:
    """Recompute the hash chain; ``broken_seq`` names the first entry that breaks it."""
    return json_response(await get_engine(request).audit.verify())
