"""Analytics under /v1: the query API, its shortcuts and the reports. Secret keys only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import Cursor, Limit, SecretCaller, SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.errors import InvalidInput
from sessionhub.models import Page
from sessionhub.models.analytics import (
    ActiveNow,
    AppStats,
    BounceSession,
    DailyStats,
    FunnelIn,
    FunnelResult,
    Journey,
    PathsIn,
    PathsResult,
    PatternCount,
    QueryIn,
    QueryResult,
    RetentionIn,
    RetentionResult,
    SessionEngagement,
    UserPatterns,
    WorkflowsResult,
)

router = APIRouter(prefix="/v1", tags=["analytics"])

RangeName = Annotated[
    str,
    Query(
        alias="date_range",
        max_length=10,
        description="today, 24h, 7d, 30d, month, 12mo or all (ignored when from/to are given).",
    ),
]
From = Annotated[
    str | None, Query(alias="from", max_length=40, description="Start: a date or ISO 8601 time.")
]
To = Annotated[
    str | None, Query(alias="to", max_length=40, description="End: a date (included) or time.")
]


def date_range(name: str, start: str | None, end: str | None) -> Any:
    """The range of query parameters, as a QueryIn takes it."""
    if start is None and end is None:
        return name
    if start is None or end is None:
        raise InvalidInput(
            "Give both from and to.", details={"field": "from" if start is None else "to"}
        )
    return {"from": start, "to": end}


@router.post("/query", response_model=QueryResult)
async def query(body: QueryIn, request: Request, caller: SecretCaller) -> Response:
    """Metrics by dimensions over filtered sessions, in a date range, optionally compared."""
    result = await get_engine(request).analytics.query(app_id_of(caller), body)
    return json_response(result)


@router.get("/analytics/active", response_model=ActiveNow)
async def active_now(request: Request, caller: SecretCaller) -> Response:
    """Sessions active in the last 5 minutes, and the pages they are on."""
    return json_response(await get_engine(request).analytics.active_now(app_id_of(caller)))


@router.get("/analytics/summary", response_model=QueryResult)
async def summary(
    request: Request,
    caller: SecretCaller,
    date_range_name: RangeName = "30d",
    start: From = None,
    end: To = None,
) -> Response:
    """Headline metrics of the range, compared with the period before."""
    result = await get_engine(request).analytics.summary(
        app_id_of(caller), date_range(date_range_name, start, end)
    )
    return json_response(result)


def _breakdown_route(path: str, dimension: str, doc: str) -> None:
    async def breakdown(
        request: Request,
        caller: SecretCaller,
        date_range_name: RangeName = "30d",
        start: From = None,
        end: To = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> Response:
        result = await get_engine(request).analytics.breakdown(
            app_id_of(caller), dimension, date_range(date_range_name, start, end), limit
        )
        return json_response(result)

    breakdown.__doc__ = doc
    router.add_api_route(
        path, breakdown, methods=["GET"], response_model=QueryResult, name=f"breakdown_{dimension}"
    )


_breakdown_route("/analytics/devices", "device_type", "Sessions by device type.")
_breakdown_route("/analytics/browsers", "browser", "Sessions by browser.")
_breakdown_route("/analytics/geography", "country", "Sessions by country.")
_breakdown_route("/analytics/sources", "source", "Sessions by traffic source.")
_breakdown_route("/analytics/entry-pages", "entry_page", "The top entry pages.")
_breakdown_route("/analytics/exit-pages", "exit_page", "The top exit pages.")


@router.get("/analytics/bounces", response_model=Page[BounceSession])
async def bounces(
    request: Request,
    caller: SecretCaller,
    date_range_name: RangeName = "30d",
    start: From = None,
    end: To = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The visits that bounced, newest first."""
    page = await get_engine(request).analytics.bounce_sessions(
        app_id_of(caller), date_range(date_range_name, start, end), limit=limit, cursor=cursor
    )
    return json_response(page)


@router.get("/analytics/stats", response_model=AppStats)
async def app_stats(request: Request, caller: SecretCaller) -> Response:
    """Every session of the app: total, active, ended, expired, by end reason, average duration."""
    return json_response(await get_engine(request).analytics.app_stats(app_id_of(caller)))


@router.get("/analytics/daily", response_model=list[DailyStats])
async def daily(
    request: Request,
    caller: SecretCaller,
    date_range_name: RangeName = "30d",
    start: From = None,
    end: To = None,
) -> Response:
    """Per local day: sessions, unique users, average duration, bounce and error rate, the
    most common entry and exit page."""
    days = await get_engine(request).analytics.daily_stats(
        app_id_of(caller), date_range(date_range_name, start, end)
    )
    return json_response([day.model_dump(mode="json") for day in days])


@router.post("/analytics/funnels", response_model=FunnelResult)
async def funnel(body: FunnelIn, request: Request, caller: SecretCaller) -> Response:
    """2-10 ordered steps, within a session or within N days per user."""
    return json_response(await get_engine(request).analytics.funnel(app_id_of(caller), body))


@router.post("/analytics/paths", response_model=PathsResult)
async def paths(body: PathsIn, request: Request, caller: SecretCaller) -> Response:
    """The top next (or previous) steps from a page or event, as Sankey nodes and links."""
    return json_response(await get_engine(request).analytics.paths(app_id_of(caller), body))


@router.post("/analytics/retention", response_model=RetentionResult)
async def retention(body: RetentionIn, request: Request, caller: SecretCaller) -> Response:
    """Cohorts by first-seen day or week, and who came back in each later period."""
    return json_response(await get_engine(request).analytics.retention(app_id_of(caller), body))


@router.get("/analytics/workflows", response_model=WorkflowsResult)
async def workflows(
    request: Request,
    caller: SecretCaller,
    date_range_name: RangeName = "30d",
    start: From = None,
    end: To = None,
    session_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
) -> Response:
    """Workflows started, completed and abandoned (started, no completion, session over)."""
    result = await get_engine(request).analytics.workflows(
        app_id_of(caller),
        date_range(date_range_name, start, end),
        session_id=session_id,
        limit=limit,
    )
    return json_response(result)


@router.get("/analytics/journeys", response_model=Journey)
async def journey(
    request: Request,
    caller: SecretCaller,
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    session_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> Response:
    """One user's (or session's) sessions and steps, oldest first."""
    result = await get_engine(request).analytics.journey(
        app_id_of(caller), user_id=user_id, session_id=session_id, limit=limit
    )
    return json_response(result)


@router.get("/analytics/patterns", response_model=list[PatternCount])
async def pattern_counts(request: Request, caller: SecretCaller) -> Response:
    """How many users are in each pattern (as the worker last computed them)."""
    found = await get_engine(request).analytics.pattern_counts(app_id_of(caller))
    return json_response([item.model_dump() for item in found])


@router.get("/users/{user_id}/patterns", response_model=UserPatterns)
async def user_patterns(user_id: UserPath, request: Request, caller: SecretCaller) -> Response:
    """The user's pattern from their recent sessions, with confidence, indicators and score."""
    result = await get_engine(request).analytics.user_patterns(app_id_of(caller), user_id)
    return json_response(result)


@router.get("/sessions/{session_id}/engagement", response_model=SessionEngagement)
async def session_engagement(
    session_id: SessionPath, request: Request, caller: SecretCaller
) -> Response:
    """The session's engagement score, 0-100 (formula in docs/analytics.md)."""
    result = await get_engine(request).analytics.session_engagement(app_id_of(caller), session_id)
    return json_response(result)
