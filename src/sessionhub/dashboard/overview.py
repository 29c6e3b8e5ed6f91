"""The overview: headline numbers with their change, a time series, top lists, active now."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse

from sessionhub.dashboard.reports import country_names
from sessionhub.dashboard.web import Ctx, CtxDep, SignInRequired, current
from sessionhub.errors import NotFound
from sessionhub.models.analytics import QueryResult

router = APIRouter()

# The numbers of the page itself, all answered from the daily rollups (plus today's raw
# sessions). The median comes as a fragment: from the rollups' duration histograms it is
# quick, but under a filter it is a raw scan, which should not hold up the page.
HEADLINE = ("sessions", "visitors", "users", "avg_duration", "bounce_rate", "error_rate")
PANELS = {
    "source": "Sources",
    "entry_page": "Entry pages",
    "exit_page": "Exit pages",
    "device_type": "Devices",
    "browser": "Browsers",
    "os": "Operating systems",
    "country": "Countries",
}
PANEL_ROWS = 8
LIVE_EVERY_S = 5.0


def headline_spec(ctx: Ctx) -> dict[str, Any]:
    """The query of the headline numbers: the same body POST /v1/query takes."""
    return {
        "metrics": list(HEADLINE),
        "filters": ctx.view.query_filters(),
        "date_range": ctx.view.date_range,
        "compare": {"previous": True},
    }


def median_spec(ctx: Ctx) -> dict[str, Any]:
    return {**headline_spec(ctx), "metrics": ["median_duration"]}


def series_spec(ctx: Ctx) -> dict[str, Any]:
    hourly = ctx.view.range in ("today", "24h")
    return {
        "metrics": ["sessions", "visitors"],
        "dimensions": ["time:hour" if hourly else "time:day"],
        "filters": ctx.view.query_filters(),
        "date_range": ctx.view.date_range,
        "limit": 10_000,
    }


def panel_spec(ctx: Ctx, dimension: str, limit: int = PANEL_ROWS) -> dict[str, Any]:
    return {
        "metrics": ["sessions"],
        "dimensions": [dimension],
        "filters": ctx.view.query_filters(),
        "date_range": ctx.view.date_range,
        "order_by": [{"field": "sessions", "direction": "desc"}],
        "limit": limit,
    }


def series_points(result: QueryResult) -> dict[str, list[Any]]:
    """Labels and values for the chart, oldest first."""
    dimension = result.dimensions[0]
    rows = sorted(result.rows, key=lambda row: row.dimensions[dimension] or "")
    return {
        "labels": [row.dimensions[dimension] for row in rows],
        "sessions": [row.metrics["sessions"] for row in rows],
        "visitors": [row.metrics["visitors"] for row in rows],
    }


@router.get("/")
async def overview(ctx: CtxDep) -> Response:
    """The overview page: headline numbers, the series and active now; the median and the
    top lists load right after as fragments (each its own request, so the page is quick)."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    engine, app_id = ctx.engine, ctx.app_id
    active_now = asyncio.create_task(engine.analytics.active_now(app_id))
    try:
        headline, series = await asyncio.gather(
            engine.analytics.query(app_id, headline_spec(ctx)),
            engine.analytics.query(app_id, series_spec(ctx)),
        )
    finally:
        active = await active_now
    stats = await engine.analytics.app_stats(app_id) if headline.totals["sessions"] == 0 else None
    return ctx.render(
        "overview.html",
        headline=headline,
        metrics=HEADLINE,
        series=series_points(series),
        active=active,
        panels=PANELS,
        empty=stats is not None and stats.total == 0,
    )


@router.get("/fragments/median")
async def median(ctx: CtxDep) -> Response:
    """The median duration card (loaded after the page): from the daily rollups' duration
    histograms plus today's sessions, as ``median_duration`` of POST /v1/query."""
    result = await ctx.engine.analytics.query(ctx.app_id, median_spec(ctx))
    return ctx.render("_kpi.html", m="median_duration", headline=result)


@router.get("/fragments/panel/{dimension}")
async def panel(ctx: CtxDep, dimension: str) -> Response:
    """One top list of the overview."""
    if dimension not in PANELS:
        raise NotFound(f"No panel {dimension!r}.", details={"dimension": dimension})
    result = await ctx.engine.analytics.query(ctx.app_id, panel_spec(ctx, dimension))
    return ctx.render(
        "_panel.html",
        dimension=dimension,
        title=PANELS[dimension],
        result=result,
        names=country_names(),
    )


@router.get("/live")
async def live(request: Request) -> Response:
    """Active now, as Server-Sent Events: a ``active`` event every few seconds."""
    try:
        ctx = await current(request)
    except SignInRequired:
        return Response(status_code=401)
    app_id = ctx.app_id

    async def stream() -> AsyncIterator[dict[str, str]]:
        last = None
        while True:
            active = await ctx.engine.analytics.active_now(app_id)
            data = orjson.dumps(
                {
                    "sessions": active.sessions,
                    "visitors": active.visitors,
                    "pages": [
                        {"page": row.dimensions.get("page"), "sessions": row.metrics["sessions"]}
                        for row in active.pages[:5]
                    ],
                }
            ).decode()
            if data != last:
                yield {"event": "active", "data": data}
                last = data
            await asyncio.sleep(LIVE_EVERY_S)

    return EventSourceResponse(stream(), ping=15)
