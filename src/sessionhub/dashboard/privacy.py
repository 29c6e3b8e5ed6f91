"""Privacy: consent rates, data-subject requests, retention, and the audit log with its chain.

The audit log covers every app and is admin-only in the API (GET /v1/audit): a secret
key's sign-in sees the report of its app, not the log.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from sessionhub.dashboard.web import CtxDep

router = APIRouter()

AUDIT_ROWS = 50


@router.get("/privacy")
async def privacy(ctx: CtxDep) -> Response:
    """The app's privacy report; for admins also its requests and audit entries, and the
    chain's status."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    report = await ctx.engine.privacy.report(ctx.app_id)
    requests = audit = check = None
    if ctx.login.is_admin:
        audit_log = ctx.engine.audit
        requests, audit, check = await asyncio.gather(
            audit_log.list(app_id=ctx.app_id, action="subject.", limit=AUDIT_ROWS),
            audit_log.list(app_id=ctx.app_id, limit=AUDIT_ROWS),
            audit_log.verify(),
        )
    return ctx.render("privacy.html", report=report, requests=requests, audit=audit, check=check)
