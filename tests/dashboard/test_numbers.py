"""Every number on a page equals what the query API answers for the same range and filters."""

from __future__ import annotations

import re

import httpx
import pytest

from sessionhub import Engine, FakeClock
from sessionhub.cli_demo import fill
from tests.conftest import Keys, bearer

HEADLINE = re.compile(r'data-metric="(\w+)" data-value="([^"]*)"')
CELL = re.compile(r'<a href="[^"]*">([^<]*)</a>(?:\s*<span class="muted">\w+</span>)?</td>\s*'
                  r'<td class="num" data-value="(\d+)">')  # fmt: skip


# Listed before ``dash`` in each test: the demo moves the clock, which would expire a
# sign-in made before it.
@pytest.fixture
async def shop(engine: Engine, keys: Keys, clock: FakeClock) -> Keys:
    """The test app with three days of demo traffic."""
    await fill(engine, keys.app_id, clock, days=3, visits_per_day=25, seed=7)
    return keys


def _number(text: str) -> float | None:
    return None if text == "null" else float(text)


async def _api(api: httpx.AsyncClient, keys: Keys, body: dict[str, object]) -> dict[str, object]:
    response = await api.post("/v1/query", json=body, headers=bearer(keys.secret))
    assert 200 == response.status_code, response.text
    result: dict[str, object] = response.json()
    return result


@pytest.mark.parametrize(
    ("query", "date_range", "filters"),
    [
        ("", "30d", []),
        ("?range=7d&f=country:US", "7d", [{"dimension": "country", "op": "is", "value": "US"}]),
        (
            "?range=today&f=device_type:mobile&f=source:Google",
            "today",
            [
                {"dimension": "device_type", "op": "is", "value": "mobile"},
                {"dimension": "source", "op": "is", "value": "Google"},
            ],
        ),
    ],
)
async def test_overview_headline_equals_the_query_api(
    shop: Keys,
    dash: httpx.AsyncClient,
    api: httpx.AsyncClient,
    query: str,
    date_range: str,
    filters: list[dict[str, str]],
) -> None:
    """Sessions, visitors, users, durations and rates on the overview are the API's totals."""
    page = await dash.get(f"/dashboard/{query}")
    assert 200 == page.status_code
    # The median comes as a fragment, loaded by the page with the same range and filters.
    fragment = re.search(r'hx-get="(/dashboard/fragments/median[^"]*)"', page.text)
    assert fragment is not None
    median = await dash.get(fragment.group(1).replace("&amp;", "&"))
    shown = {name: _number(value) for name, value in HEADLINE.findall(page.text + median.text)}
    metrics = ["sessions", "visitors", "users", "avg_duration", "median_duration",
               "bounce_rate", "error_rate"]  # fmt: skip
    body = {"metrics": metrics, "filters": filters, "date_range": date_range,
            "compare": {"previous": True}}  # fmt: skip
    answer = await _api(api, shop, body)
    assert answer["totals"] == shown
    if not filters:
        assert (shown["sessions"] or 0) > 20  # the demo data is there: this compares something


async def test_source_panel_and_geography_table_equal_the_query_api(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    """The rows of a top list and of the geography table are the API's rows."""
    page = await dash.get("/dashboard/?range=7d")
    assert 'hx-get="/dashboard/fragments/panel/source?range=7d"' in page.text
    panel = (await dash.get("/dashboard/fragments/panel/source?range=7d")).text
    shown = [(name, int(count)) for name, count in CELL.findall(panel)]
    answer = await _api(
        api,
        shop,
        {"metrics": ["sessions"], "dimensions": ["source"], "date_range": "7d",
         "order_by": [{"field": "sessions", "direction": "desc"}], "limit": 8},
    )  # fmt: skip
    rows = answer["rows"]
    assert isinstance(rows, list)
    assert [(r["dimensions"]["source"], r["metrics"]["sessions"]) for r in rows] == shown
    assert len(shown) >= 3

    geo = await dash.get("/dashboard/reports/geography?range=7d")
    table = geo.text.split('id="geo-table"', 1)[1]
    shown_geo = [int(count) for _, count in CELL.findall(table)]
    answer = await _api(
        api,
        shop,
        {"metrics": ["sessions", "visitors", "bounce_rate", "avg_duration"],
         "dimensions": ["country"], "date_range": "7d",
         "order_by": [{"field": "sessions", "direction": "desc"}], "limit": 300},
    )  # fmt: skip
    rows = answer["rows"]
    assert isinstance(rows, list)
    assert [r["metrics"]["sessions"] for r in rows] == shown_geo


async def test_funnel_counts_equal_the_funnel_api(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    """A funnel built in the page counts what POST /v1/analytics/funnels counts."""
    steps = ["page:/", "page:/products", "event:conversion"]
    page = await dash.get(
        "/dashboard/reports/funnels", params=[("step", s) for s in steps] + [("range", "7d")]
    )
    table = page.text.split('id="funnel-table"', 1)[1]
    shown = [int(v) for v in re.findall(r'<td class="num" data-value="(\d+)">', table)]
    body = {"steps": [{"page": "/"}, {"page": "/products"}, {"event": "conversion"}],
            "date_range": "7d"}  # fmt: skip
    response = await api.post("/v1/analytics/funnels", json=body, headers=bearer(shop.secret))
    assert [s["count"] for s in response.json()["steps"]] == shown
    assert shown[0] > 0
