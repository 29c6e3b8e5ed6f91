"""The browser SDK: the tracker script at /sdk/, and the two calls only a browser makes.

The script files are built by scripts/build-tracker and shipped in the package, so the
server needs no Node. Each is read once, kept with its gzip encoding and a strong ETag,
and sent compressed to clients that accept it: what a browser downloads is what
bench/tracker_size.py measures.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError

from sessionhub.api.auth import KeyAuth, app_id_of, get_engine
from sessionhub.api.context import client_of
from sessionhub.api.params import AppCaller, SessionPath
from sessionhub.api.responses import APP_ERRORS, error_responses, json_response
from sessionhub.errors import BadRequest, InvalidInput, Unauthorized
from sessionhub.models import Identified
from sessionhub.models.tracker import Beacon, SessionIdentify, TrackerConfig

router = APIRouter(tags=["tracker"])

SCRIPTS = {"sessionhub.js": "sessionhub.min.js", "sessionhub.mjs": "sessionhub.min.mjs"}
"""Served name → the built file in sessionhub/tracker/."""
MEDIA_TYPE = "text/javascript; charset=utf-8"
# Browsers revalidate after an hour (a cheap 304 by ETag), so an upgrade reaches them soon.
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"

publishable_key = KeyAuth(
    frozenset({"publishable"}), "A beacon takes the publishable key (pk_…) a web page holds."
)


@dataclass(frozen=True)
class Script:
    """A built tracker file, as it is sent."""

    body: bytes
    gzipped: bytes
    etag: str


@functools.cache
def script(name: str) -> Script:
    """The built file ``name`` (a key of SCRIPTS), read and compressed once."""
    body = files("sessionhub").joinpath("tracker", SCRIPTS[name]).read_bytes()
    return Script(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
    )


def _send(request: Request, name: str) -> Response:
    found = script(name)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": found.etag, "Vary": "Accept-Encoding"}
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=MEDIA_TYPE, headers=headers)
    return Response(found.body, media_type=MEDIA_TYPE, headers=headers)


_SCRIPT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/javascript": {}}, "description": "The script."},
    304: {"description": "Not modified (If-None-Match matched the ETag)."},
}


@router.get("/sdk/sessionhub.js", response_class=Response, responses=_SCRIPT_RESPONSES)
async def tracker_script(request: Request) -> Response:
    """The browser tracker, a classic script: `<script defer src=… data-key="pk_…">`."""
    return _send(request, "sessionhub.js")


@router.get("/sdk/sessionhub.mjs", response_class=Response, responses=_SCRIPT_RESPONSES)
async def tracker_module(request: Request) -> Response:
    """The browser tracker as an ES module: `import * as sessionhub from …; sessionhub.init({…})`."""
    return _send(request, "sessionhub.mjs")


def _token(request: Request, fallback: Any) -> str:
    """The key of the Authorization header, else ``fallback`` (from the body or query)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() == "bearer" and token:
        return token
    if not isinstance(fallback, str) or not fallback:
        raise Unauthorized("Send the publishable key as 'key' (or as 'Authorization: Bearer').")
    return fallback


@router.get(
    "/v1/tracker/config",
    response_model=TrackerConfig,
    responses=error_responses(401, 403, 422, 429),
)
async def tracker_config(
    request: Request,
    key: Annotated[
        str | None, Query(max_length=200, description="The publishable key (pk_…).")
    ] = None,
) -> Response:
    """The app's consent settings, which the tracker asks for before it sends anything.

    A plain GET with the key in the query: no preflight, and the browser caches it.
    """
    caller = await publishable_key.authorize(request, _token(request, key))
    settings = await get_engine(request).apps.settings(app_id_of(caller))
    config = TrackerConfig(consent_mode=settings.consent_mode, honor_dnt=settings.honor_dnt)
    # Five minutes: a changed setting reaches every page soon, without a request per page.
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Origin, Authorization"}
    return json_response(config, headers=headers)


def _json_body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("The body is not valid JSON.", details={"field": "body"}) from exc


@router.post(
    "/v1/beacon",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Stored what could be."},
        **error_responses(400, 401, 403, 413, 422, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Sent as text/plain by navigator.sendBeacon; application/json works too.",
            "content": {"application/json": {"schema": Beacon.model_json_schema()}},
        }
    },
)
async def beacon(request: Request) -> Response:
    """Store a batch sent by `navigator.sendBeacon` as a page goes away (publishable keys).

    The key comes in the body (a beacon can't set headers) or the Authorization header.
    The answer is 204 whatever happened to each event: nobody reads it. Events of a
    session that has ended meanwhile go to their device's running session or a new one.
    """
    data = _json_body(await request.body())
    key = data.get("key") if isinstance(data, dict) else None
    caller = await publishable_key.authorize(request, _token(request, key))
    try:
        body = Beacon.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc
    await get_engine(request).tracker.beacon(
        app_id_of(caller), body.events, client=client_of(request)
    )
    return Response(status_code=204)


@router.post("/v1/sessions/{session_id}/identify", response_model=Identified, responses=APP_ERRORS)
async def identify_session(
    session_id: SessionPath, body: SessionIdentify, request: Request, caller: AppCaller
) -> Response:
    """Link the device of this running session to a user (publishable or secret keys).

    What a browser calls after a login: naming its own session is what shows it is that
    browser. 409 when the session has ended or belongs to another user.
    """
    return json_response(
        await get_engine(request).tracker.identify_session(
            app_id_of(caller), session_id, body.user_id
        )
    )
