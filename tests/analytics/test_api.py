"""The analytics API: POST /v1/query and the report endpoints, with secret keys, strict
input (a bad name is a 422 naming it) and cursor paging; and the ``query`` CLI command."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from sessionhub import Engine, FakeClock, Settings
from sessionhub.cli import cli
from tests.analytics.dataset import NOW
from tests.analytics.helpers import pages, send
from tests.conftest import Keys, bearer


async def _data(engine: Engine, clock: FakeClock, app_id: str) -> None:
    await pages(engine, clock, app_id, "a", ["/", "/pricing"])
    await send(engine, clock, app_id, "a", "conversion", after=5)
    await pages(engine, clock, app_id, "b", ["/blog"])
    await pages(engine, clock, app_id, "c", ["/", "/docs", "/docs"])


async def test_post_query_answers_metrics_by_dimension(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A secret key gets rows and totals of the query."""
    await _data(engine, clock, keys.app_id)
    response = await api.post(
        "/v1/query",
        headers=bearer(keys.secret),
        json={
            "metrics": ["sessions", "page_views", "conversion_rate"],
            "dimensions": ["entry_page"],
            "date_range": "today",
            "filters": [
                {
                    "or": [
                        {"dimension": "page", "value": "/pricing"},
                        {"not": {"did": {"event": "conversion"}}},
                    ]
                }
            ],
        },
    )
    assert 200 == response.status_code
    body = response.json()
    assert (
        {"sessions": 3, "page_views": 6, "conversion_rate": 100 / 3},
        [[{"entry_page": "/"}, 2], [{"entry_page": "/blog"}, 1]],
    ) == (body["totals"], [[r["dimensions"], r["metrics"]["sessions"]] for r in body["rows"]])


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"metrics": ["sessions", "bounce"]}, "unknown metric 'bounce'"),
        ({"dimensions": ["town"]}, "unknown dimension 'town'"),
        ({"filters": [{"dimension": "planet", "value": "x"}]}, "unknown dimension 'planet'"),
        (
            {"filters": [{"dimension": "page", "op": "matches", "value": "("}]},
            "not a valid regular expression",
        ),
        ({"date_range": "3d"}, "date_range"),
        ({"metrics": ["sessions"], "order_by": [{"field": "visitors"}]}, "'visitors'"),
        ({"metrics": ["sessions"], "colour": "red"}, "colour"),
    ],
)
async def test_a_bad_query_is_a_422_that_names_the_problem(
    api: httpx.AsyncClient, keys: Keys, body: dict[str, Any], named: str
) -> None:
    """Unknown metrics, dimensions, filter fields, bad regexes, ranges and fields are 422s
    whose message says which."""
    response = await api.post("/v1/query", headers=bearer(keys.secret), json=body)
    assert (422, "invalid_input", True) == (
        response.status_code,
        response.json()["error"]["code"],
        named in json.dumps(response.json()),
    )


async def test_queries_need_a_secret_key(api: httpx.AsyncClient, keys: Keys) -> None:
    """A publishable key may send events but not read analytics (403)."""
    response = await api.post("/v1/query", headers=bearer(keys.publishable), json={})
    assert 403 == response.status_code


async def test_cursor_pages_cover_every_row_once(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Following next_cursor with limit 2 returns every row exactly once, in order; a cursor
    of another query is refused."""
    await _data(engine, clock, keys.app_id)
    query = {"metrics": ["page_views"], "dimensions": ["page"], "date_range": "today", "limit": 2}
    seen, cursor = [], None
    while True:
        body = (
            await api.post(
                "/v1/query", headers=bearer(keys.secret), json={**query, "cursor": cursor}
            )
        ).json()
        seen += [(r["dimensions"]["page"], r["metrics"]["page_views"]) for r in body["rows"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [("/", 2), ("/docs", 2), ("/blog", 1), ("/pricing", 1)] == seen
    other = await api.post(
        "/v1/query",
        headers=bearer(keys.secret),
        json={"metrics": ["sessions"], "cursor": "MjowMDAw"},
    )
    assert 422 == other.status_code


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/analytics/active", None),
        ("GET", "/v1/analytics/summary?date_range=7d", None),
        ("GET", "/v1/analytics/devices", None),
        ("GET", "/v1/analytics/geography?from=2025-12-01&to=2026-12-31", None),
        ("GET", "/v1/analytics/entry-pages", None),
        ("GET", "/v1/analytics/exit-pages", None),
        ("GET", "/v1/analytics/bounces", None),
        ("GET", "/v1/analytics/stats", None),
        ("GET", "/v1/analytics/daily?date_range=7d", None),
        ("GET", "/v1/analytics/workflows", None),
        ("GET", "/v1/analytics/patterns", None),
        ("GET", "/v1/analytics/journeys?user_id=nobody", 404),
        ("POST", "/v1/analytics/funnels", {"steps": [{"page": "/"}, {"event": "conversion"}]}),
        ("POST", "/v1/analytics/paths", {"page": "/"}),
        ("POST", "/v1/analytics/retention", {"by": "devices", "period": "day"}),
    ],
)
async def test_every_report_endpoint_answers(
    api: httpx.AsyncClient,
    engine: Engine,
    keys: Keys,
    clock: FakeClock,
    method: str,
    path: str,
    body: Any,
) -> None:
    """Each shortcut and report answers 200 with a secret key (an unknown user's journey 404)."""
    await _data(engine, clock, keys.app_id)
    expected = body if isinstance(body, int) else 200
    response = await api.request(
        method, path, headers=bearer(keys.secret), json=None if isinstance(body, int) else body
    )
    assert expected == response.status_code, response.text


def test_the_query_command_prints_rows_and_totals(database_url: str) -> None:
    """``sessionhub query`` prints a table of the rows and the totals, or the JSON result;
    a bad metric exits 2 naming it."""

    async def setup() -> str:
        clock = FakeClock(NOW)
        engine = await Engine(Settings(database_url=database_url), clock=clock).start(migrate=False)
        try:
            app_id = (await engine.apps.create("cli")).id
            await _data(engine, clock, app_id)
            return app_id
        finally:
            await engine.close()

    app_id = asyncio.run(setup())
    args = [
        "--database-url",
        database_url,
        "query",
        "--app",
        app_id,
        "-d",
        "entry_page",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "-f",
        "entry_page!=/blog",
    ]
    text = CliRunner().invoke(cli, [*args, "-m", "sessions"])
    as_json = CliRunner().invoke(cli, [*args, "-m", "sessions", "--json"])
    bad = CliRunner().invoke(cli, [*args, "-m", "sessionz"])
    assert 0 == text.exit_code, text.output
    assert ["entry_page  sessions", "/           2", "total       2"] == text.stdout.splitlines()[
        1:
    ]
    assert {"sessions": 2} == json.loads(as_json.stdout)["totals"]
    assert (2, True) == (bad.exit_code, "unknown metric 'sessionz'" in bad.stderr)
