"""Apps and keys: admin keys manage them; a secret key reads its own app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine, secret_key
from sessionhub.api.params import AdminCaller
from sessionhub.api.responses import json_response
from sessionhub.core.apps import DEFAULT_OVERLAP_S, Caller
from sessionhub.core.audit import actor_of
from sessionhub.models import App, AppCreate, AppUpdate, IssuedKey, Key, KeyCreate, KeyRotate

router = APIRouter(prefix="/v1", tags=["apps and keys"])
IdPath = Annotated[str, Path(max_length=40)]


@router.post("/apps", response_model=App, status_code=201)
async def create_app(body: AppCreate, request: Request, caller: AdminCaller) -> Response:
    """Create an app (a tenant) with its settings."""
    return json_response(
        await get_engine(request).apps.create(body.name, body.settings, actor=actor_of(caller)),
        status=201,
    )


@router.get("/apps", response_model=list[App])
async def list_apps(request: Request, caller: AdminCaller) -> Response:
    """Every app."""
    return json_response([a.model_dump(mode="json") for a in await get_engine(request).apps.list()])


@router.get("/apps/{app_id}", response_model=App)
async def get_app(app_id: IdPath, request: Request, caller: AdminCaller) -> Response:
    return json_response(await get_engine(request).apps.get(app_id))


@router.patch("/apps/{app_id}", response_model=App)
async def update_app(
    app_id: IdPath, body: AppUpdate, request: Request, caller: AdminCaller
) -> Response:
    """Rename the app or change some settings; timeouts apply to sessions started afterwards."""
    return json_response(
        await get_engine(request).apps.update(
            app_id, name=body.name, settings=body.settings, actor=actor_of(caller)
        )
    )


@router.get("/app", response_model=App)
async def own_app(request: Request, caller: Annotated[Caller, Depends(secret_key)]) -> Response:
    """The app the secret key belongs to."""
    return json_response(await get_engine(request).apps.get(app_id_of(caller)))


@router.post("/keys", response_model=IssuedKey, status_code=201)
async def create_key(body: KeyCreate, request: Request, caller: AdminCaller) -> Response:
    """Issue a key. The token is in this response only; store it now."""
    key = await get_engine(request).keys.issue(
        body.kind, body.app_id, body.name, actor=actor_of(caller)
    )
    return json_response(key, status=201)


@router.get("/keys", response_model=list[Key])
async def list_keys(
    request: Request,
    caller: AdminCaller,
    app_id: Annotated[str | None, Query(max_length=40)] = None,
    include_revoked: bool = False,
) -> Response:
    keys = await get_engine(request).keys.list(app_id, include_revoked)
    return json_response([k.model_dump(mode="json") for k in keys])


@router.post("/keys/{key_id}/rotate", response_model=IssuedKey)
async def rotate_key(
    key_id: IdPath, request: Request, caller: AdminCaller, body: KeyRotate | None = None
) -> Response:
    """Issue a replacement; the old key keeps working ``overlap_s`` seconds (default a day; 0: stops now)."""
    overlap = body.overlap_s if body else DEFAULT_OVERLAP_S
    return json_response(
        await get_engine(request).keys.rotate(key_id, overlap, actor=actor_of(caller))
    )


@router.post("/keys/{key_id}/revoke", response_model=Key)
async def revoke_key(key_id: IdPath, request: Request, caller: AdminCaller) -> Response:
    """Stop the key working at once."""
    return json_response(await get_engine(request).keys.revoke(key_id, actor=actor_of(caller)))
