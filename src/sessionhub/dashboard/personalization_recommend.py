"""Recommendations: try a strategy for a user, a session or an item; see the list and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sessionhub.dashboard.personalization_forms import plain
from sessionhub.dashboard.web import CtxDep
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models.personalization import Recommendations

router = APIRouter()

STRATEGIES = {
    "": "chosen by the ids given",
    "popular": "popular (cold start)",
    "similar": "similar to an item",
    "personalized": "personalized for a user",
    "session": "from the current session",
}
Text = Annotated[str, Query(max_length=200)]


@router.get("/recommendations")
async def recommendations(
    ctx: CtxDep,
    strategy: Text = "",
    user_id: Text = "",
    session_id: Text = "",
    item_id: Text = "",
    category: Text = "",
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    exclude_seen: Annotated[str, Query(max_length=5)] = "",
    tried: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """The "try it" form and, once submitted, what ``GET /v1/recommendations`` answers."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    asked: dict[str, Any] = {
        "strategy": strategy if strategy in STRATEGIES else "",
        "user_id": plain(user_id.strip(), "user_id"),
        "session_id": plain(session_id.strip(), "session_id"),
        "item_id": plain(item_id.strip(), "item_id"),
        "category": plain(category.strip(), "category"),
        "k": k,
        # A checkbox is absent when unticked: before the first try it starts ticked.
        "exclude_seen": bool(exclude_seen) or not tried,
    }
    result: Recommendations | None = None
    error: str | None = None
    status = 200
    if tried:
        try:
            result = await ctx.engine.personalization.recommendations.recommend(
                ctx.app_id,
                strategy=asked["strategy"] or None,
                user_id=asked["user_id"] or None,
                session_id=asked["session_id"] or None,
                item_id=asked["item_id"] or None,
                k=k,
                category=asked["category"] or None,
                exclude_seen=asked["exclude_seen"],
            )
        except (InvalidInput, NotFound) as exc:
            error, status = exc.message, exc.status
    profiles = await ctx.engine.personalization.profiles.list(ctx.app_id, limit=20)
    return ctx.render(
        "recommendations.html",
        status=status,
        asked=asked,
        result=result,
        error=error,
        strategies=STRATEGIES,
        users=[p.id for p in profiles.items],
        show_controls=False,
    )
