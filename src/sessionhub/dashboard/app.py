"""The dashboard application: its pages, static files and error pages, mounted at /dashboard.

A sub-application of its own, so its HTML error pages and cookie sign-in stay apart from
the API's JSON errors and bearer keys, and its pages stay out of the OpenAPI document.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from sessionhub.core.engine import Engine
from sessionhub.core.logins import Logins
from sessionhub.dashboard import (
    conversations,
    overview,
    personalization_experiments,
    personalization_federation,
    personalization_profiles,
    personalization_recommend,
    personalization_segments,
    privacy,
    reports,
    sessions,
    settings,
    signin,
    users,
    work,
)
from sessionhub.dashboard.web import HERE, SignInRequired, secured, templates
from sessionhub.errors import SessionhubError

log = logging.getLogger(__name__)
BASE = "/dashboard"


def create_dashboard(engine: Engine) -> FastAPI:
    """The dashboard over ``engine``, to mount at ``/dashboard``."""
    dash = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    dash.state.engine = engine
    dash.state.logins = Logins(engine)
    dash.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages = (signin, overview, sessions, users, reports, conversations, work, privacy, settings)
    personalization = (
        personalization_profiles,
        personalization_segments,
        personalization_recommend,
        personalization_experiments,
        personalization_federation,
    )
    for module in (*pages, *personalization):
        dash.include_router(module.router)

    @dash.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        target = f"{BASE}/login?next={quote(_here(request), safe='')}"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"hx-redirect": target})
        return Response(status_code=303, headers={"location": target})

    @dash.exception_handler(SessionhubError)
    async def _error(request: Request, exc: SessionhubError) -> Response:
        return error_page(request, exc.status, exc.message)

    @dash.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
        return error_page(request, 422, f"Some of the input is not valid: {fields}.")

    @dash.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        message = "No such page." if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, message)

    @dash.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_page(request, 500, "Something went wrong; it has been logged.")

    return dash


def _here(request: Request) -> str:
    path = request.url.path
    if request.method != "GET" or not path.startswith(BASE) or path.startswith(f"{BASE}/live"):
        return BASE + "/"
    return path + (f"?{request.url.query}" if request.url.query else "")


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )
    secured(response)
    return response
