"""Render every error as ``{"error": {"code", "message", "details"}}`` with its status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from sessionhub.api.responses import json_response
from sessionhub.errors import BadRequest, InvalidInput, NotFound, SessionhubError

log = logging.getLogger("sessionhub.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


def error_response(exc: SessionhubError, headers: dict[str, str] | None = None) -> Response:
    return json_response(exc.to_dict(), status=exc.status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into error bodies."""

    @app.exception_handler(SessionhubError)
    async def _sessionhub(request: Request, exc: SessionhubError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(
                BadRequest("The body is not valid JSON.", details={"errors": _clean(errors)})
            )
        return error_response(InvalidInput.from_validation(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFound(f"No route {request.url.path!r}."))
        err = SessionhubError(str(exc.detail), code=_HTTP_CODES.get(exc.status_code, "http_error"))
        return json_response(err.to_dict(), status=exc.status_code, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(SessionhubError("Internal error; it has been logged."))


def _clean(errors: object) -> list[dict[str, object]]:
    cleaned = []
    for err in errors if isinstance(errors, list | tuple) else []:
        cleaned.append({"loc": list(err.get("loc", ())), "message": err.get("msg", "")})
    return cleaned
