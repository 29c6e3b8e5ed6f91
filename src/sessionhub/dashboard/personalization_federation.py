"""Federation grants: what this app shares with other apps of the operator, and receives."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from sessionhub.dashboard.personalization_forms import (
    actor,
    explain,
    plain,
    text,
    texts,
    validated,
)
from sessionhub.dashboard.web import Ctx, CtxDep, hx_redirect
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models.personalization import GrantIn

router = APIRouter()

SCOPES = {
    "sessions": "read sessions",
    "events": "read their events",
    "profile": "read user profiles",
    "write_events": "record events into sessions",
}


async def _page(
    ctx: Ctx, *, error: str | None = None, status: int = 200, done: str | None = None
) -> Response:
    grants = await ctx.engine.personalization.federation.list(ctx.app_id)
    names = {a.id: a.name for a in ctx.apps}
    others = [a for a in ctx.apps if a.id != ctx.app_id]
    return ctx.render(
        "federation.html",
        status=status,
        grants=grants,
        names=names,
        others=others,
        scopes=SCOPES,
        error=error,
        done=done,
        show_controls=False,
    )


@router.get("/federation")
async def federation(ctx: CtxDep) -> Response:
    """Grants given and received by this app, and the form for a new one."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    return await _page(ctx)


@router.post("/federation/grants")
async def put_grant(ctx: CtxDep) -> Response:
    """Grant another app scopes over this app's data (replacing its grant)."""
    form = await ctx.request.form()
    try:
        grantee = plain(text(form, "app_id", 41), "app_id", 40)
        if not grantee:
            raise InvalidInput("Pick the app to grant access to.", details={"field": "app_id"})
        spec = validated(GrantIn, {"scopes": texts(form, "scopes", 20, 4)})
        await ctx.engine.personalization.federation.grant(ctx.app_id, grantee, spec, actor(ctx))
    except (InvalidInput, NotFound) as exc:
        message = explain(exc) if isinstance(exc, InvalidInput) else exc.message
        return await _page(ctx, error=message, status=exc.status)
    return hx_redirect(ctx.request, "/dashboard/federation?granted=1")


@router.post("/federation/grants/{app_id}/revoke")
async def revoke_grant(ctx: CtxDep, app_id: str) -> Response:
    """Withdraw the grant to ``app_id`` (logged in the audit log)."""
    await ctx.engine.personalization.federation.revoke(
        ctx.app_id, plain(app_id, "app_id", 40), actor(ctx)
    )
    return hx_redirect(ctx.request, "/dashboard/federation?revoked=1")
