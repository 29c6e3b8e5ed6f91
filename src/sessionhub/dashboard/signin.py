"""Signing in and out, and switching apps (admins)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from sessionhub.core.logins import LIFETIME_MS
from sessionhub.dashboard.web import (
    COOKIE,
    PRE_COOKIE,
    CtxDep,
    hx_redirect,
    logins_of,
    secured,
    set_cookie,
    templates,
)
from sessionhub.errors import Forbidden, SessionhubError

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: never another site (an open redirect)."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return "/dashboard/"


def _form(request: Request, error: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"csrf": token, "error": error, "next": _safe_next(request.query_params.get("next"))},
        status_code=status,
    )
    # Sign-in has no session yet: its CSRF token is a double submit of this cookie.
    set_cookie(request, response, PRE_COOKIE, token, 3600)
    return secured(response)


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in form."""
    return _form(request)


@router.post("/login")
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=2000)] = "/dashboard/",
) -> Response:
    """Sign in with an admin or secret key; a bad key shows the form again (401)."""
    expected = request.cookies.get(PRE_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        return _form(request, "The form expired: try again.", 403)
    try:
        cookie, _ = await logins_of(request).sign_in(key)
    except Forbidden as exc:
        return _form(request, exc.message, 403)
    except SessionhubError:
        return _form(request, "That key is unknown, revoked or expired.", 401)
    response = Response(status_code=303, headers={"location": _safe_next(next)})
    set_cookie(request, response, COOKIE, cookie, LIFETIME_MS // 1000)
    response.delete_cookie(PRE_COOKIE, path="/dashboard")
    return secured(response)


@router.post("/logout")
async def logout(ctx: CtxDep) -> Response:
    """Sign out: the login is deleted on the server, the cookie in the browser."""
    await logins_of(ctx.request).sign_out(ctx.login)
    response = hx_redirect(ctx.request, "/dashboard/login")
    response.delete_cookie(COOKIE, path="/dashboard")
    return secured(response)


@router.post("/switch")
async def switch_app(ctx: CtxDep, app_id: Annotated[str, Form(max_length=60)]) -> Response:
    """Look at another app (admins)."""
    await logins_of(ctx.request).switch_app(ctx.login, app_id)
    return hx_redirect(ctx.request, "/dashboard/")
