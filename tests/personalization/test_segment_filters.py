"""Segments as analytics filters: ``{"dimension": "segment", "op": "is", "value": key}``
restricts a query (and funnels and paths) to the sessions of the segment's users now."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sessionhub import Engine, FakeClock
from sessionhub.errors import InvalidInput
from sessionhub.models.personalization import SegmentIn
from tests.conftest import Keys, bearer
from tests.personalization.support import new_app, send, view


async def _shop(engine: Engine, app: str) -> None:
    """Users a (3 views), b (1 view), c (5 views, pro), and an anonymous device (2 views)."""
    await send(engine, app, [view("p1", path="/p1")] * 3, user_id="a")
    await send(engine, app, [view("p2", path="/p2")], user_id="b")
    await send(engine, app, [view("p3", path="/p3")] * 5, user_id="c")
    await send(engine, app, [view("p4", path="/p4")] * 2, device_id="dev-anon")
    await engine.personalization.profiles.set_traits(app, "c", {"plan": "pro"})


async def _totals(engine: Engine, app: str, *filters: Any) -> dict[str, Any]:
    result = await engine.analytics.query(
        app,
        {"metrics": ["sessions", "users", "page_views"], "filters": list(filters)},
    )
    return dict(result.totals)


def _segment(key: str, op: str = "is") -> dict[str, Any]:
    return {"dimension": "segment", "op": op, "value": key}


async def test_static_segment_filter_counts_only_its_users_sessions(engine: Engine) -> None:
    """A static segment's filter counts exactly its users' sessions; ``is_not`` the rest,
    anonymous sessions included, so the two add up to the unfiltered total."""
    app = await new_app(engine)
    await _shop(engine, app)
    await engine.personalization.segments.put(app, SegmentIn(key="vip", users=["a", "c", "z"]))
    everyone = await _totals(engine, app)
    inside = await _totals(engine, app, _segment("vip"))
    outside = await _totals(engine, app, _segment("vip", "is_not"))
    assert {"sessions": 4, "users": 3, "page_views": 11} == everyone
    assert {"sessions": 2, "users": 2, "page_views": 8} == inside
    assert {"sessions": 2, "users": 1, "page_views": 3} == outside
    negated = await _totals(engine, app, {"not": _segment("vip")})
    assert outside == negated


async def test_rule_segment_filter_is_evaluated_as_of_now(engine: Engine) -> None:
    """A rule segment's filter uses its members at query time: a trait set later moves a
    user in, and the filtered numbers follow."""
    app = await new_app(engine)
    await _shop(engine, app)
    rules = {"trait": "plan", "op": "eq", "value": "pro"}
    await engine.personalization.segments.put(app, SegmentIn(key="pro", rules=rules))
    assert {"sessions": 1, "users": 1, "page_views": 5} == await _totals(
        engine, app, _segment("pro")
    )
    await engine.personalization.profiles.set_traits(app, "b", {"plan": "pro"})
    assert {"sessions": 2, "users": 2, "page_views": 6} == await _totals(
        engine, app, _segment("pro")
    )
    assert {"sessions": 2, "users": 1, "page_views": 5} == await _totals(
        engine, app, _segment("pro", "is_not")
    )


async def test_segment_filters_combine_with_others_and_lists_mean_any(engine: Engine) -> None:
    """A list of segment keys is any of them; segment and page filters all hold; a
    breakdown by page has only the segment's pages."""
    app = await new_app(engine)
    await _shop(engine, app)
    await engine.personalization.segments.put(app, SegmentIn(key="only-b", users=["b"]))
    rules = {"field": "events", "op": "gte", "value": 3}
    await engine.personalization.segments.put(app, SegmentIn(key="active", rules=rules))
    either = {"dimension": "segment", "op": "is", "value": ["only-b", "active"]}
    assert {"sessions": 3, "users": 3, "page_views": 9} == await _totals(engine, app, either)
    entry = {"dimension": "page", "op": "is", "value": "/p3"}
    both = await _totals(engine, app, _segment("active"), entry)
    assert {"sessions": 1, "users": 1, "page_views": 5} == both
    result = await engine.analytics.query(
        app,
        {"metrics": ["sessions"], "dimensions": ["page"], "filters": [_segment("active")]},
    )
    assert {"/p1": 1, "/p3": 1} == {
        r.dimensions["page"]: r.metrics["sessions"] for r in result.rows
    }


async def test_segment_filters_apply_to_funnels(engine: Engine) -> None:
    """A funnel with a segment filter counts only the segment's users."""
    app = await new_app(engine)
    await _shop(engine, app)
    await engine.personalization.segments.put(app, SegmentIn(key="vip", users=["c"]))
    spec: dict[str, Any] = {"steps": [{"page": "/p3"}, {"page": "/p3"}], "date_range": "30d"}
    whole = await engine.analytics.funnel(app, spec)
    only = await engine.analytics.funnel(app, {**spec, "filters": [_segment("vip")]})
    none = await engine.analytics.funnel(app, {**spec, "filters": [_segment("vip", "is_not")]})
    assert 1 == whole.steps[0].count == only.steps[0].count
    assert 0 == none.steps[0].count


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        (_segment("nope"), "filters"),
        ({"dimension": "segment", "op": "contains", "value": "vip"}, "filters.0.condition"),
        ({"dimension": "segment", "op": "is", "value": None}, "filters.0.condition"),
    ],
)
async def test_bad_segment_filters_are_422s_naming_where(
    engine: Engine, condition: dict[str, Any], field: str
) -> None:
    """An unknown segment, an op other than is/is_not, or a null key is a 422."""
    app = await new_app(engine)
    await engine.personalization.segments.put(app, SegmentIn(key="vip", users=["a"]))
    with pytest.raises(InvalidInput) as caught:
        await _totals(engine, app, condition)
    details = caught.value.details
    where = details.get("field") or ".".join(map(str, details["errors"][0]["loc"]))
    assert where.startswith(field)


async def test_segment_dimension_is_not_a_grouping(engine: Engine) -> None:
    """``segment`` filters but does not break down: as a dimension it is a 422."""
    app = await new_app(engine)
    with pytest.raises(InvalidInput):
        await engine.analytics.query(app, {"dimensions": ["segment"]})


async def test_post_query_filters_by_segment_over_http(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """POST /v1/query takes segment filters; an unknown segment is a 422, not a 500."""
    await _shop(engine, keys.app_id)
    await engine.personalization.segments.put(keys.app_id, SegmentIn(key="vip", users=["c"]))
    body = {"metrics": ["sessions", "page_views"], "filters": [_segment("vip")]}
    response = await api.post("/v1/query", headers=bearer(keys.secret), json=body)
    assert 200 == response.status_code, response.text
    assert {"sessions": 1, "page_views": 5} == response.json()["totals"]
    body["filters"] = [_segment("missing")]
    response = await api.post("/v1/query", headers=bearer(keys.secret), json=body)
    assert 422 == response.status_code
    assert {"field": "filters", "segment": "missing"} == response.json()["error"]["details"]
