"""Profiles: list and find them; a profile with its scores, traits and affinity vector."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sessionhub.dashboard.personalization_forms import plain
from sessionhub.dashboard.web import CtxDep, hx_redirect
from sessionhub.errors import NotFound

router = APIRouter()

PAGE = 50
IdQuery = Annotated[str | None, Query(max_length=200)]


@router.get("/profiles")
async def profiles(
    ctx: CtxDep,
    kind: Annotated[str, Query(pattern="^(user|device)$")] = "user",
    after: IdQuery = None,
    q: IdQuery = None,
) -> Response:
    """Profiles by id, 50 a page, and a search that opens one."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    wanted = plain((q or "").strip(), "q")
    if wanted:
        return hx_redirect(ctx.request, f"/dashboard/profiles/{quote(wanted, safe='')}?kind={kind}")
    page = await ctx.engine.personalization.profiles.list(
        ctx.app_id, kind=kind, limit=PAGE, cursor=plain(after or "", "after") or None
    )
    return ctx.render("profiles.html", page=page, kind=kind, after=after, show_controls=False)


@router.get("/profiles/{subject_id}")
async def profile_page(
    ctx: CtxDep,
    subject_id: str,
    kind: Annotated[str, Query(pattern="^(user|device)$")] = "user",
    half_life_days: Annotated[float | None, Query(gt=0, le=3650)] = None,
) -> Response:
    """A profile: activity, scores, lifecycle, pattern, traits, and the vector as a chart."""
    plain(subject_id, "subject_id")
    found = ctx.engine.personalization.profiles
    try:
        profile = await found.get(ctx.app_id, subject_id, kind)
    except NotFound:
        return ctx.render(
            "profile_missing.html",
            status=404,
            subject_id=subject_id,
            kind=kind,
            show_controls=False,
        )
    vector = await found.vector(ctx.app_id, subject_id, half_life_days=half_life_days, kind=kind)
    chart = {
        "labels": [a.dimension for a in vector.affinities],
        "values": [a.score for a in vector.affinities],
        "label": "Share of the vector",
    }
    return ctx.render(
        "profile.html",
        profile=profile,
        vector=vector,
        chart=chart,
        kind=kind,
        custom_half_life=half_life_days is not None,
        show_controls=False,
    )
