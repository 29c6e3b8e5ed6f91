"""JSON responses serialized by pydantic-core or orjson (no jsonable_encoder round trip)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response
from pydantic import BaseModel, Field


def json_response(
    body: BaseModel | dict[str, Any] | list[Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Serialize ``body`` to JSON fast; models through pydantic, the rest through orjson."""
    content = (
        body.__pydantic_serializer__.to_json(body)
        if isinstance(body, BaseModel)
        else orjson.dumps(body)
    )
    return Response(
        content=content, status_code=status, media_type="application/json", headers=headers
    )


class ErrorInfo(BaseModel):
    code: str = Field(description="A stable, machine-readable code such as session_ended.")
    message: str = Field(description="What went wrong, for a human.")
    details: dict[str, Any] = Field(description="Specifics: the field, the limit, the id …")


class ErrorBody(BaseModel):
    """The shape of every error response."""

    error: ErrorInfo


_ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    401: "No API key, or an unknown, revoked or expired one.",
    403: "The key may not do this (wrong kind of key, or an origin the app does not allow).",
    404: "No such thing in the key's app.",
    409: "The request conflicts with the current state (e.g. session_ended, session_limit_reached).",
    413: "The body, or a part of it such as metadata, is over its size limit.",
    422: "A field is missing, unknown, of the wrong type or out of range; details name it.",
    429: "Too many requests: see Retry-After and the RateLimit and RateLimit-Policy headers.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the given error statuses with the error body."""
    return {
        status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


# The errors each group of endpoints can answer with (every one takes a key).
ADMIN_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 429)
APP_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429)
