"""Reports: funnels, paths (a Sankey-style flow), retention, geography and devices."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sessionhub.dashboard.flow import sankey
from sessionhub.dashboard.web import HERE, Ctx, CtxDep

router = APIRouter()

MAX_STEPS = 10


@functools.cache
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code → English name (from the vendored country list)."""
    data = json.loads((HERE / "static" / "vendor" / "countries.json").read_text())
    return {code: item["name"] or code for code, item in data.items()}


def parse_step(text: str) -> dict[str, Any] | None:
    """``page:/pricing`` or ``event:signup`` as a funnel step; None when empty."""
    kind, _, value = text.partition(":")
    value = value.strip()
    if not value or kind not in ("page", "event"):
        return None
    return {kind: value[:2048]}


def funnel_spec(ctx: Ctx, steps: list[dict[str, Any]], within: str) -> dict[str, Any]:
    """The body POST /v1/analytics/funnels takes for these steps and the page's view."""
    return {
        "steps": steps,
        "within": within,
        "date_range": ctx.view.date_range,
        "filters": ctx.view.query_filters(),
    }


@router.get("/reports/funnels")
async def funnels(ctx: CtxDep) -> Response:
    """Build a funnel from steps in the page; see conversion and drop-off per step."""
    params = ctx.request.query_params
    raw = params.getlist("step")[:MAX_STEPS]
    steps = [step for step in (parse_step(text) for text in raw) if step is not None]
    within = "user" if params.get("within") == "user" else "session"
    result = None
    if len(steps) >= 2:
        result = await ctx.engine.analytics.funnel(ctx.app_id, funnel_spec(ctx, steps, within))
    shown = raw or ["page:/", "page:/pricing", "event:conversion"]
    rows = [step.partition(":") for step in shown]
    return ctx.render("funnels.html", result=result, rows=rows, within=within)


@router.get("/reports/paths")
async def paths(ctx: CtxDep) -> Response:
    """The steps after (or before) a page or an event, drawn as a flow."""
    params = ctx.request.query_params
    start = parse_step(params.get("start", "page:/")) or {"page": "/"}
    direction = "previous" if params.get("direction") == "previous" else "next"
    spec = {
        "direction": direction,
        "depth": 4,
        "top": 6,
        "date_range": ctx.view.date_range,
        "filters": ctx.view.query_filters(),
        **start,
    }
    result = await ctx.engine.analytics.paths(ctx.app_id, spec)
    kind, value = next(iter(start.items()))
    return ctx.render(
        "paths.html",
        result=result,
        flow=sankey(result),
        start=f"{kind}:{value}",
        direction=direction,
    )


@router.get("/reports/retention")
async def retention(ctx: CtxDep) -> Response:
    """Cohorts by first-seen week (or day) and who came back: a heatmap."""
    params = ctx.request.query_params
    period = "day" if params.get("period") == "day" else "week"
    by = "devices" if params.get("by") == "devices" else "users"
    date_range = ctx.view.date_range if ctx.view.range != "30d" or period == "day" else "12mo"
    spec = {"by": by, "period": period, "periods": 8, "date_range": date_range}
    result = await ctx.engine.analytics.retention(ctx.app_id, spec)
    return ctx.render("retention.html", result=result, period=period, by=by)


def breakdown(ctx: Ctx, dimension: str, limit: int = 100) -> dict[str, Any]:
    return {
        "metrics": ["sessions", "visitors", "bounce_rate", "avg_duration"],
        "dimensions": [dimension],
        "filters": ctx.view.query_filters(),
        "date_range": ctx.view.date_range,
        "order_by": [{"field": "sessions", "direction": "desc"}],
        "limit": limit,
    }


@router.get("/reports/geography")
async def geography(ctx: CtxDep) -> Response:
    """Sessions by country: a shaded world map and the table."""
    result = await ctx.engine.analytics.query(ctx.app_id, breakdown(ctx, "country", 300))
    shading = {
        row.dimensions["country"]: row.metrics["sessions"]
        for row in result.rows
        if row.dimensions["country"]
    }
    return ctx.render("geography.html", result=result, names=country_names(), shading=shading)


DEVICE_DIMENSIONS = {
    "device_type": "Device types",
    "browser": "Browsers",
    "os": "Operating systems",
}


@router.get("/reports/devices")
async def devices(ctx: CtxDep) -> Response:
    """Sessions by device type, browser and operating system."""
    results = await asyncio.gather(
        *(ctx.engine.analytics.query(ctx.app_id, breakdown(ctx, d, 20)) for d in DEVICE_DIMENSIONS)
    )
    return ctx.render(
        "devices.html", tables=list(zip(DEVICE_DIMENSIONS.items(), results, strict=True))
    )
