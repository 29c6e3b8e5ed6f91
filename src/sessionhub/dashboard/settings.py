"""Settings: the app's timeouts, retention, consent mode and origins; its keys; new apps.

Changing settings and keys takes an admin sign-in, as in the API (PATCH /v1/apps/…,
/v1/keys are admin-only): a secret key's sign-in sees them read-only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sessionhub.dashboard.web import Ctx, CtxDep, hx_redirect
from sessionhub.errors import Forbidden, InvalidInput
from sessionhub.models import IssuedKey

router = APIRouter()

NUMBERS = ("idle_timeout_s", "absolute_lifetime_s")
RETENTION = ("events_days", "messages_days", "ended_sessions_days")


def _admin(ctx: Ctx) -> None:
    if not ctx.login.is_admin:
        raise Forbidden("Changing settings and keys needs an admin key's sign-in.")


def _actor(ctx: Ctx) -> str:
    return f"dashboard:{ctx.login.key_id}"


def _number(form: Any, name: str) -> int | None:
    """A whole number from a form field; blank means none (no limit, kept forever)."""
    text = str(form.get(name, "")).strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise InvalidInput(f"{name} must be a whole number or blank.", details={"field": name})
    return int(text)


async def _page(
    ctx: Ctx, *, error: str | None = None, issued: IssuedKey | None = None, status: int = 200
) -> Response:
    keys = await ctx.engine.keys.list(ctx.app_id) if ctx.login.is_admin else []
    return ctx.render("settings.html", keys=keys, error=error, issued=issued, status=status)


@router.get("/settings")
async def settings_page(ctx: CtxDep) -> Response:
    """The app's settings and keys."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    return await _page(ctx)


@router.post("/settings")
async def save_settings(ctx: CtxDep) -> Response:
    """Save the settings form (a bad value shows the form again with what was wrong)."""
    _admin(ctx)
    form = await ctx.request.form()
    try:
        patch: dict[str, Any] = {name: _number(form, name) for name in NUMBERS}
        patch["retention"] = {name: _number(form, name) for name in RETENTION}
        patch["timezone"] = str(form.get("timezone", "UTC")).strip()[:100]
        patch["consent_mode"] = str(form.get("consent_mode", ""))[:20]
        origins = str(form.get("allowed_origins", ""))[:20_000]
        patch["allowed_origins"] = [line.strip() for line in origins.splitlines() if line.strip()]
        await ctx.engine.apps.update(ctx.app_id, settings=patch, actor=_actor(ctx))
    except InvalidInput as exc:
        return await _page(ctx, error=_explain(exc), status=422)
    return hx_redirect(ctx.request, "/dashboard/settings?saved=1")


def _explain(exc: InvalidInput) -> str:
    errors = exc.details.get("errors")
    if isinstance(errors, list) and errors:
        parts = [_error_text(e) for e in errors]
        return "; ".join(parts)
    return exc.message


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    where = error.get("loc") or error.get("field") or []
    path = ".".join(str(p) for p in where) if isinstance(where, list | tuple) else str(where)
    return f"{path}: {error.get('msg', '')}"


@router.post("/keys")
async def create_key(ctx: CtxDep) -> Response:
    """Issue a publishable or secret key for the app; its token is shown this once."""
    _admin(ctx)
    form = await ctx.request.form()
    kind = str(form.get("kind", ""))
    if kind not in ("publishable", "secret"):
        raise InvalidInput("kind must be publishable or secret.", details={"field": "kind"})
    name = str(form.get("name", "")).strip()[:200]
    issued = await ctx.engine.keys.issue(kind, ctx.app_id, name, actor=_actor(ctx))  # type: ignore[arg-type]
    return await _page(ctx, issued=issued)


@router.post("/keys/{key_id}/rotate")
async def rotate_key(ctx: CtxDep, key_id: str) -> Response:
    """Issue a replacement; the old key keeps working for a day (to roll deploys over)."""
    _admin(ctx)
    issued = await ctx.engine.keys.rotate(key_id[:60], app_id=ctx.app_id, actor=_actor(ctx))
    return await _page(ctx, issued=issued)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(ctx: CtxDep, key_id: str) -> Response:
    """Stop a key working at once."""
    _admin(ctx)
    await ctx.engine.keys.revoke(key_id[:60], ctx.app_id, actor=_actor(ctx))
    return hx_redirect(ctx.request, "/dashboard/settings")


@router.post("/apps")
async def create_app(ctx: CtxDep) -> Response:
    """Create an app (admins) and switch to it."""
    _admin(ctx)
    form = await ctx.request.form()
    name = str(form.get("name", "")).strip()[:200]
    if not name:
        raise InvalidInput("Give the app a name.", details={"field": "name"})
    app = await ctx.engine.apps.create(name, actor=_actor(ctx))
    await ctx.request.app.state.logins.switch_app(ctx.login, app.id)
    return hx_redirect(ctx.request, "/dashboard/settings")
