"""The personalization pages over ASGI, on every backend: what they show equals the API."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import pytest

from sessionhub import Engine, FakeClock
from sessionhub.models.personalization import (
    ExperimentIn,
    ExperimentPatch,
    PersonalizationSettings,
    SegmentIn,
)
from sessionhub.models.privacy import ConsentIn
from tests.conftest import Keys, bearer
from tests.dashboard.conftest import csrf_of, sign_in
from tests.personalization.support import DAY_MS, send, view

PAGES = [
    "/dashboard/profiles",
    "/dashboard/profiles?kind=device",
    "/dashboard/segments",
    "/dashboard/segments/new",
    "/dashboard/recommendations",
    "/dashboard/recommendations?tried=1",
    "/dashboard/experiments",
    "/dashboard/experiments/new",
    "/dashboard/federation",
]
SHOPPERS = {
    "ann": [("p1", "shoes"), ("p2", "shoes"), ("p3", "bags")],
    "bob": [("p1", "shoes"), ("p4", "hats")],
    "cem": [("p2", "shoes"), ("p3", "bags"), ("p5", "bags")],
    "dia": [("p4", "hats"), ("p5", "bags")],
}
VALUE = re.compile(r'data-value="([^"]*)"')


def _json_block(text: str, block: str) -> Any:
    """The data of a page's ``<script type="application/json" id=block>``."""
    found = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', text, re.S)
    assert found is not None, f"no {block} on the page"
    return json.loads(found.group(1))


def _field(text: str, attribute: str, name: str) -> str:
    """The data-value of the element with ``attribute=name`` (or the first in its row)."""
    found = re.search(rf'{attribute}="{re.escape(name)}"[^>]*data-value="([^"]*)"', text)
    if found is None:
        found = re.search(
            rf'<tr {attribute}="{re.escape(name)}">.*?data-value="([^"]*)"', text, re.S
        )
    assert found is not None, f"no {attribute}={name} on the page"
    return found.group(1)


def _number(raw: str) -> float | None:
    return None if raw in ("null", "None") else float(raw)


async def _get(api: httpx.AsyncClient, keys: Keys, path: str) -> Any:
    response = await api.get(path, headers=bearer(keys.secret))
    assert 200 == response.status_code, response.text
    return response.json()


# Listed before ``dash`` in each test: the data moves the clock, which would expire a
# sign-in made before it.
@pytest.fixture
async def shop(engine: Engine, keys: Keys, clock: FakeClock) -> Keys:
    """Four shoppers who viewed and bought products over a few days, one refusing
    personalization, with a trait and a computed trait."""
    app = keys.app_id
    settings = PersonalizationSettings.model_validate(
        {"computed_traits": [{"name": "orders", "op": "count", "event": "conversion"}]}
    )
    await engine.personalization.profiles.configure(app, settings)
    for day in range(3):
        for user, items in SHOPPERS.items():
            events = [view(item, category) for item, category in items]
            if day == 2:
                events.append(view(items[0][0], items[0][1], type="conversion"))
            await send(engine, app, events, user_id=user)
        clock.advance(ms=DAY_MS // 2)
    await engine.consent.set(
        app, ConsentIn(user_id="eve", purposes={"personalization": False}), source="test"
    )
    await send(engine, app, [view("p1", "shoes")], user_id="eve")
    await engine.personalization.profiles.set_traits(app, "ann", {"plan": "pro", "vip": True})
    await engine.personalization.recommendations.rebuild(app)
    return keys


# -- every page --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_of_an_empty_app_opens_with_a_readable_empty_state(
    dash: httpx.AsyncClient, path: str
) -> None:
    """Without any personalization data each page opens, says so, and sends the CSP."""
    response = await dash.get(path)
    assert 200 == response.status_code
    assert "script-src 'self'" in response.headers["content-security-policy"]
    empty = {
        "/dashboard/profiles": "No user profiles yet",
        "/dashboard/segments": "No segments yet",
        "/dashboard/experiments": "No experiments yet",
        "/dashboard/federation": "This app shares nothing",
        "/dashboard/recommendations?tried=1": "Nothing to recommend",
    }
    if path in empty:
        assert empty[path] in response.text


async def test_the_navigation_lists_the_personalization_pages(dash: httpx.AsyncClient) -> None:
    """Every page's side navigation links the five new pages."""
    text = (await dash.get("/dashboard/users")).text
    for label in ("Profiles", "Segments", "Recommendations", "Experiments", "Federation"):
        assert f">{label}</a>" in text


async def test_state_changes_without_the_csrf_token_are_refused(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine
) -> None:
    """Each form's POST without the sign-in's CSRF token is a 403 and changes nothing."""
    posts = {
        "/dashboard/segments": {"key": "s", "mode": "static", "users": "ann"},
        "/dashboard/experiments": {"key": "e", "v_key": ["a", "b"], "goal_event": "x"},
        "/dashboard/federation/grants": {"app_id": "app_x", "scopes": "sessions"},
        "/dashboard/federation/grants/app_x/revoke": {},
    }
    for path, form in posts.items():
        assert 403 == (await dash.post(path, data=form)).status_code, path
    assert [] == await engine.personalization.segments.list(shop.app_id)
    assert [] == await engine.personalization.experiments.list(shop.app_id)


# -- profiles ----------------------------------------------------------------------------


async def test_the_profile_list_pages_and_its_search_opens_a_profile(
    shop: Keys, dash: httpx.AsyncClient
) -> None:
    """Profiles list by id (the refused shopper is absent); a search redirects to one."""
    text = (await dash.get("/dashboard/profiles")).text
    assert ["ann", "bob", "cem", "dia"] == re.findall(r'data-profile="([^"]+)"', text)
    found = await dash.get("/dashboard/profiles?q=cem")
    assert 303 == found.status_code
    assert "/dashboard/profiles/cem?kind=user" == found.headers["location"]


async def test_the_profile_page_shows_what_the_api_answers(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    """Scores, counts, quintiles, traits and the vector on the page equal the API's."""
    profile = await _get(api, shop, "/v1/profiles/ann")
    vector = await _get(api, shop, "/v1/profiles/ann/vector")
    text = (await dash.get("/dashboard/profiles/ann")).text
    for name in ("engagement_score", "sessions", "events", "active_days"):
        assert profile[name] == _number(_field(text, "data-field", name)), name
    assert f'data-field="lifecycle">{profile["lifecycle"]}<' in text
    for name, rank in profile["quintiles"].items():
        assert f'data-quintile="{name}">{rank}<' in text
    assert "<dt>plan</dt><dd>pro</dd>" in text
    assert '<dd data-computed="orders">1</dd>' in text
    chart = _json_block(text, "vector-data")
    assert [a["dimension"] for a in vector["affinities"]] == chart["labels"]
    assert [a["score"] for a in vector["affinities"]] == chart["values"]
    for affinity in vector["affinities"]:
        row = text.split(f'<tr data-dimension="{affinity["dimension"]}">')[1].split("</tr>")[0]
        assert affinity["score"] == float(VALUE.findall(row)[0])
        assert f"{100 * affinity['score']:.1f}%" in text
    assert "category:shoes" == vector["affinities"][0]["dimension"]
    assert text.count("<code>page_view</code>") >= 1


async def test_another_half_life_recomputes_the_vector_as_the_api_does(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    """The page's half-life form gives the vector of GET …/vector?half_life_days=."""
    vector = await _get(api, shop, "/v1/profiles/cem/vector?half_life_days=0.5")
    text = (await dash.get("/dashboard/profiles/cem?half_life_days=0.5")).text
    chart = _json_block(text, "vector-data")
    assert [a["score"] for a in vector["affinities"]] == chart["values"]
    stored = _json_block((await dash.get("/dashboard/profiles/cem")).text, "vector-data")
    assert stored["values"] != chart["values"]


async def test_a_missing_or_refused_profile_is_a_readable_404(
    shop: Keys, dash: httpx.AsyncClient
) -> None:
    """A user who refused personalization (or never came) has no profile: a 404 page."""
    for who in ("eve", "nobody"):
        response = await dash.get(f"/dashboard/profiles/{who}")
        assert 404 == response.status_code
        assert "personalization" in response.text
    assert 422 == (await dash.get("/dashboard/profiles/ann?half_life_days=-1")).status_code


async def test_the_user_page_links_to_the_profile(shop: Keys, dash: httpx.AsyncClient) -> None:
    """A user page links to the user's personalization profile."""
    text = (await dash.get("/dashboard/users/bob")).text
    assert 'href="/dashboard/profiles/bob" id="profile-link"' in text


async def test_untrusted_traits_and_names_are_escaped(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine
) -> None:
    """A trait or segment name carrying markup is shown as text, never as markup."""
    payload = '<img src=x onerror="alert(1)">'
    await engine.personalization.profiles.set_traits(shop.app_id, "bob", {"nick": payload})
    await engine.personalization.segments.put(
        shop.app_id, SegmentIn(key="evil", name=payload, users=["bob"])
    )
    for path in ("/dashboard/profiles/bob", "/dashboard/segments", "/dashboard/segments/evil"):
        text = (await dash.get(path)).text
        assert payload not in text, path
        assert html.escape(payload) in text or "&lt;img src=x" in text, path


# -- segments ----------------------------------------------------------------------------


async def _builder_post(dash: httpx.AsyncClient, form: dict[str, Any]) -> httpx.Response:
    page = await dash.get("/dashboard/segments/new")
    return await dash.post("/dashboard/segments", data={"csrf": csrf_of(page.text), **form})


async def test_the_builder_makes_a_rule_segment_whose_numbers_equal_the_api(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient, engine: Engine
) -> None:
    """Conditions in the page (a not, a behaviour, an affinity) make the rule tree the API
    takes; the segment's page shows the API's count and members."""
    form = {
        "key": "shoe_fans",
        "name": "Shoe fans",
        "mode": "rules",
        "match": "all",
        "c_negate": ["", "", "not"],
        "c_kind": ["affinity", "event", "trait"],
        "c_subject": ["category:shoes", "conversion", "plan"],
        "c_op": ["gte", "gte", "eq"],
        "c_value": ["0.3", "1", "pro"],
        "c_days": ["", "7", ""],
    }
    response = await _builder_post(dash, form)
    assert 303 == response.status_code, response.text
    assert "/dashboard/segments/shoe_fans?saved=1" == response.headers["location"]
    segment = await engine.personalization.segments.get(shop.app_id, "shoe_fans")
    assert {
        "and": [
            {"affinity": "category:shoes", "op": "gte", "value": 0.3},
            {"event": "conversion", "min": 1, "within_days": 7},
            {"not": {"trait": "plan", "op": "eq", "value": "pro"}},
        ]
    } == segment.rules
    count = await _get(api, shop, "/v1/segments/shoe_fans/count")
    members = await _get(api, shop, "/v1/segments/shoe_fans/members")
    assert ["bob", "cem"] == members["items"]  # ann is pro; dia saw no shoes
    text = (await dash.get("/dashboard/segments/shoe_fans")).text
    assert count["members"] == int(re.search(r'id="member-count" data-value="(\d+)"', text)[1])  # type: ignore[index]
    assert members["items"] == re.findall(
        r'<li><a href="/dashboard/profiles/[^"]+">([^<]+)</a>', text
    )
    listed = (await dash.get("/dashboard/segments")).text
    assert str(count["members"]) == _field(listed, "data-segment", "shoe_fans")


async def test_editing_a_segment_shows_its_conditions_and_saves_changes(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine
) -> None:
    """The edit page fills the builder from the tree; an any-of save replaces it."""
    rules = {"or": [{"pattern": ["power_user", "regular_user"]}, {"event": "signup", "max": 0}]}
    await engine.personalization.segments.put(shop.app_id, SegmentIn(key="mix", rules=rules))
    text = (await dash.get("/dashboard/segments/mix/edit")).text
    assert '<option value="any" selected>' in text
    assert 'value="power_user, regular_user"' in text
    assert '<option value="lte" selected>' in text
    form = {
        "key": "mix",
        "editing": "1",
        "mode": "rules",
        "match": "any",
        "c_negate": ["", ""],
        "c_kind": ["field", "inactive"],
        "c_subject": ["sessions", ""],
        "c_op": ["in", "eq"],
        "c_value": ['3, "4"', "30"],
        "c_days": ["", "90"],
    }
    assert 303 == (await _builder_post(dash, form)).status_code
    saved = await engine.personalization.segments.get(shop.app_id, "mix")
    assert {
        "or": [
            {"field": "sessions", "op": "in", "value": [3, "4"]},
            {"last_active_between_days": [30, 90]},
        ]
    } == saved.rules


async def test_a_nested_tree_is_edited_as_json(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine
) -> None:
    """A tree with nested groups opens in the JSON editor and saves from it."""
    rules = {"and": [{"or": [{"trait": "vip", "op": "eq", "value": True}]}]}
    await engine.personalization.segments.put(shop.app_id, SegmentIn(key="nest", rules=rules))
    text = (await dash.get("/dashboard/segments/nest/edit")).text
    assert '<option value="json" selected>' in text
    form = {
        "key": "nest",
        "mode": "json",
        "rules_json": '{"not": {"field": "events", "op": "lt", "value": 2}}',
    }
    assert 303 == (await _builder_post(dash, form)).status_code
    saved = await engine.personalization.segments.get(shop.app_id, "nest")
    assert {"not": {"field": "events", "op": "lt", "value": 2}} == saved.rules


async def test_a_static_segment_comes_from_a_pasted_list(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    """Ids pasted one per line or with commas make a static segment, without repeats."""
    form = {"key": "beta", "mode": "static", "users": "ann\ncem, dia\nann\n"}
    assert 303 == (await _builder_post(dash, form)).status_code
    members = await _get(api, shop, "/v1/segments/beta/members")
    assert ["ann", "cem", "dia"] == members["items"]
    edit = (await dash.get("/dashboard/segments/beta/edit")).text
    assert ">ann\ncem\ndia</textarea>" in edit


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"key": "Bad Key", "mode": "static", "users": "ann"}, "key"),
        (
            {
                "key": "x",
                "mode": "rules",
                "c_kind": ["field"],
                "c_subject": ["nope"],
                "c_op": ["eq"],
                "c_value": ["1"],
            },
            "unknown field",
        ),
        (
            {
                "key": "x",
                "mode": "rules",
                "c_kind": ["event"],
                "c_subject": ["buy"],
                "c_op": ["gte"],
                "c_value": ["many"],
            },
            "whole number",
        ),
        ({"key": "x", "mode": "json", "rules_json": "{not json"}, "not valid JSON"),
        ({"key": "x", "mode": "rules"}, "at least one condition"),
    ],
)
async def test_a_bad_segment_form_is_shown_again_with_what_was_wrong(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine, form: dict[str, Any], message: str
) -> None:
    """A mistake answers 422 with the form as typed and the reason; nothing is saved."""
    response = await _builder_post(dash, form)
    assert 422 == response.status_code
    assert message in response.text
    assert f'value="{form["key"]}"' in response.text
    assert [] == await engine.personalization.segments.list(shop.app_id)


async def test_members_page_with_a_cursor_and_size_over_time_equals_the_api(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient, engine: Engine, clock: FakeClock
) -> None:
    """Members come 100 a page; the size chart holds the worker's daily snapshots."""
    users = [f"u{i:03d}" for i in range(150)]
    await engine.personalization.segments.put(shop.app_id, SegmentIn(key="many", users=users))
    assert 1 == await engine.personalization.segments.snapshot_all()
    clock.advance(ms=DAY_MS)
    await sign_in(dash, shop.secret)  # the day ended the sign-in (12 hours idle)
    await engine.personalization.segments.put(shop.app_id, SegmentIn(key="many", users=users[:40]))
    assert 1 == await engine.personalization.segments.snapshot_all()
    text = (await dash.get("/dashboard/segments/many")).text
    first = re.findall(r'<li><a href="/dashboard/profiles/[^"]+">([^<]+)</a>', text)
    assert users[:40] == first
    history = await _get(api, shop, "/v1/segments/many/history")
    chart = _json_block(text, "size-data")
    assert [d["day"] for d in history["days"]] == chart["labels"]
    assert [150, 40] == chart["values"] == [d["members"] for d in history["days"]]
    await engine.personalization.segments.put(shop.app_id, SegmentIn(key="many", users=users))
    paged = (await dash.get("/dashboard/segments/many")).text
    nxt = re.search(r'id="next-members" href="([^"]+)"', paged)
    assert nxt is not None
    second = (await dash.get(html.unescape(nxt[1]))).text
    api_second = await _get(api, shop, "/v1/segments/many/members?limit=100&cursor=u099")
    assert api_second["items"] == re.findall(
        r'<li><a href="/dashboard/profiles/[^"]+">([^<]+)</a>', second
    )


async def test_deleting_a_segment_from_its_page(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine
) -> None:
    """The delete button removes the segment and lands on the list."""
    await engine.personalization.segments.put(shop.app_id, SegmentIn(key="gone", users=["ann"]))
    page = await dash.get("/dashboard/segments/gone")
    response = await dash.post("/dashboard/segments/gone/delete", data={"csrf": csrf_of(page.text)})
    assert 303 == response.status_code
    assert [] == await engine.personalization.segments.list(shop.app_id)
    assert 404 == (await dash.get("/dashboard/segments/gone")).status_code


# -- recommendations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "strategy=personalized&user_id=bob&k=3",
        "strategy=popular&k=5&category=bags",
        "strategy=similar&item_id=p1&k=4",
        "user_id=dia",
    ],
)
async def test_recommendations_on_the_page_equal_the_api(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient, query: str
) -> None:
    """The items, their order, scores and reasons are what GET /v1/recommendations says."""
    expected = await _get(api, shop, f"/v1/recommendations?{query}")
    text = (await dash.get(f"/dashboard/recommendations?tried=1&exclude_seen=1&{query}")).text
    assert expected["items"], "the fixture should give something to recommend"
    assert [i["item"] for i in expected["items"]] == re.findall(r'<tr data-item="([^"]+)">', text)
    assert [i["score"] for i in expected["items"]] == [float(v) for v in VALUE.findall(text)]
    for item in expected["items"]:
        for reason in item["reasons"]:
            assert f"<li>{html.escape(reason)}</li>" in text
    assert f'id="rec-used">{expected["strategy"]}<' in text


async def test_a_recommendation_without_its_id_says_what_is_missing(
    shop: Keys, dash: httpx.AsyncClient
) -> None:
    """A personalized try without a user is a 422 with the API's message, form kept."""
    response = await dash.get("/dashboard/recommendations?tried=1&strategy=personalized&k=4")
    assert 422 == response.status_code
    assert "needs user_id" in response.text
    assert 'value="4"' in response.text


# -- experiments -------------------------------------------------------------------------


async def _experiment_form(dash: httpx.AsyncClient, form: dict[str, Any]) -> httpx.Response:
    page = await dash.get("/dashboard/experiments/new")
    return await dash.post("/dashboard/experiments", data={"csrf": csrf_of(page.text), **form})


async def test_the_setup_form_creates_the_experiment_the_api_would(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine
) -> None:
    """Variants with weights and features, unit, targeting, coverage, namespace and goal
    typed in the page make the experiment; start and stop change its status."""
    await engine.personalization.segments.put(shop.app_id, SegmentIn(key="beta", users=["ann"]))
    form = {
        "key": "btn",
        "name": "Green button",
        "unit": "device",
        "v_key": ["control", "green"],
        "v_weight": ["1", "3"],
        "v_features": ['{"color": "blue"}', '{"color": "green"}'],
        "coverage": "50",
        "segment": "beta",
        "conditions": '{"trait": "country", "op": "in", "value": ["DE"]}',
        "namespace": "checkout",
        "ns_start": "0",
        "ns_end": "0.5",
        "goal_event": "conversion",
        "goal_kind": "property",
        "goal_property": "amount",
        "min_sample": "20",
    }
    response = await _experiment_form(dash, form)
    assert 303 == response.status_code, response.text
    made = await engine.personalization.experiments.get(shop.app_id, "btn")
    assert ("draft", "device", 0.5, 20) == (made.status, made.unit, made.coverage, made.min_sample)
    assert [("control", 1.0, {"color": "blue"}), ("green", 3.0, {"color": "green"})] == [
        (v.key, v.weight, v.features) for v in made.variants
    ]
    assert {"segment": "beta", "conditions": {"trait": "country", "op": "in", "value": ["DE"]}} == {
        k: v for k, v in made.targeting.items() if v is not None
    }
    assert made.namespace is not None
    assert ("checkout", 0.0, 0.5) == (made.namespace.name, made.namespace.start, made.namespace.end)
    assert {"event": "conversion", "kind": "property", "property": "amount"} == {
        k: v for k, v in made.goal.items() if v is not None
    }
    page = await dash.get("/dashboard/experiments/btn")
    assert 'id="start-experiment"' in page.text
    assert "No units exposed yet" in page.text
    start = {"csrf": csrf_of(page.text), "status": "running"}
    assert 303 == (await dash.post("/dashboard/experiments/btn/status", data=start)).status_code
    running = await dash.get("/dashboard/experiments/btn")
    assert 'hx-trigger="every 10s"' in running.text
    stop = {"csrf": csrf_of(page.text), "status": "stopped"}
    assert 303 == (await dash.post("/dashboard/experiments/btn/status", data=stop)).status_code
    assert "stopped" == (await engine.personalization.experiments.get(shop.app_id, "btn")).status
    listed = (await dash.get("/dashboard/experiments")).text
    assert '<tr data-experiment="btn">' in listed


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"key": "e", "v_key": ["a", "a"], "goal_event": "x"}, "variant keys must differ"),
        ({"key": "e", "v_key": ["a"], "goal_event": "x"}, "variants"),
        (
            {"key": "e", "v_key": ["a", "b"], "v_weight": ["1", "heavy"], "goal_event": "x"},
            "variants.1.weight",
        ),
        (
            {"key": "e", "v_key": ["a", "b"], "v_features": ["[1]", ""], "goal_event": "x"},
            "JSON object",
        ),
        ({"key": "e", "v_key": ["a", "b"], "goal_event": "x", "goal_kind": "property"}, "property"),
        ({"key": "e", "v_key": ["a", "b"], "goal_event": "x", "coverage": "150"}, "coverage"),
    ],
)
async def test_a_bad_experiment_form_is_shown_again_with_what_was_wrong(
    shop: Keys, dash: httpx.AsyncClient, engine: Engine, form: dict[str, Any], message: str
) -> None:
    """A mistake answers 422 with the reason and the values typed; nothing is created."""
    response = await _experiment_form(dash, form)
    assert 422 == response.status_code
    assert message in html.unescape(response.text)
    assert 'value="e"' in response.text
    assert [] == await engine.personalization.experiments.list(shop.app_id)


async def _run(engine: Engine, app: str, units: int, min_sample: int) -> None:
    """A running conversion experiment with ``units`` users exposed; every third converts."""
    experiments = engine.personalization.experiments
    spec = ExperimentIn.model_validate(
        {
            "key": "btn",
            "variants": [{"key": "control"}, {"key": "green"}],
            "goal": {"event": "conversion"},
            "min_sample": min_sample,
            "status": "running",
        }
    )
    await experiments.create(app, spec)
    for i in range(units):
        await experiments.decide(app, user_id=f"x{i}")
        if i % 3 == 0:
            await send(engine, app, [view(type="conversion")], user_id=f"x{i}")


async def test_live_results_equal_the_api_with_intervals_and_both_verdicts(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient, engine: Engine
) -> None:
    """Per variant the units, conversions, rate, interval, lift, p-value, chance to beat
    control and expected loss on the page (and its refresh) are the API's numbers."""
    await _run(engine, shop.app_id, 60, min_sample=5)
    expected = await _get(api, shop, "/v1/experiments/btn/results")
    assert expected["enough_data"]
    for path in ("/dashboard/experiments/btn", "/dashboard/experiments/btn/results"):
        text = (await dash.get(path)).text
        assert 'id="min-sample"' not in text
        assert 'id="srm-warning"' not in text
        chart = _json_block(text, "results-data")
        assert [v["ci_low"] for v in expected["variants"]] == chart["low"]
        assert [v["ci_high"] for v in expected["variants"]] == chart["high"]
        for v in expected["variants"]:
            row = text.split(f'<tr data-variant="{v["variant"]}">')[1].split("</tr>")[0]
            for name in ("units", "conversions", "value", "lift", "p_value",
                         "chance_to_beat_control", "expected_loss"):  # fmt: skip
                assert v[name] == _number(_field(row, "data-field", name)), name
            assert f'data-low="{v["ci_low"]}" data-high="{v["ci_high"]}"' in row
            assert f"{100 * v['value']:.2f}%" in row
    green = expected["variants"][1]
    assert green["p_value"] is not None
    assert green["chance_to_beat_control"] is not None


async def test_the_minimum_sample_guard_and_the_srm_warning_are_shown(
    shop: Keys, dash: httpx.AsyncClient, api: httpx.AsyncClient, engine: Engine
) -> None:
    """Below min_sample the page says so and withholds verdicts; a split that no longer
    matches the weights shows the sample-ratio-mismatch warning as an alert."""
    await _run(engine, shop.app_id, 40, min_sample=1000)
    text = (await dash.get("/dashboard/experiments/btn")).text
    assert 'id="min-sample"' in text
    assert "1,000 units" in text
    assert 'data-field="p_value" data-value="null">\u2013<' in text
    patch = ExperimentPatch(weights={"control": 1, "green": 50})
    await engine.personalization.experiments.update(shop.app_id, "btn", patch)
    expected = await _get(api, shop, "/v1/experiments/btn/results")
    assert expected["srm_warning"]
    text = (await dash.get("/dashboard/experiments/btn")).text
    assert '<div class="warning" role="alert" id="srm-warning">' in text
    assert "Sample ratio mismatch" in text


# -- federation --------------------------------------------------------------------------


async def test_grants_are_listed_created_and_revoked_for_the_current_app(
    shop: Keys, admin_dash: httpx.AsyncClient, api: httpx.AsyncClient, engine: Engine
) -> None:
    """An admin picks another app and scopes; the grant shows as the API lists it and a
    revoke removes it; both are in the audit log."""
    other = await engine.apps.create("partner")
    page = await admin_dash.get("/dashboard/federation")
    assert f'<option value="{other.id}">partner</option>' in page.text
    form = {"csrf": csrf_of(page.text), "app_id": other.id, "scopes": ["profile", "sessions"]}
    assert 303 == (await admin_dash.post("/dashboard/federation/grants", data=form)).status_code
    grants = await _get(api, shop, "/v1/federation/grants")
    assert [(other.id, ["profile", "sessions"])] == [
        (g["grantee_app_id"], g["scopes"]) for g in grants["given"]
    ]
    text = (await admin_dash.get("/dashboard/federation")).text
    assert f'<tr data-grantee="{other.id}">' in text
    revoke = f"/dashboard/federation/grants/{other.id}/revoke"
    assert 303 == (await admin_dash.post(revoke, data={"csrf": csrf_of(text)})).status_code
    assert [] == (await _get(api, shop, "/v1/federation/grants"))["given"]
    audit = await engine.audit.list(app_id=shop.app_id)
    logged = [(e.action, e.actor) for e in audit.items if e.action.startswith("federation.")]
    assert {"federation.grant", "federation.revoke"} == {action for action, _ in logged}
    assert all(actor.startswith("dashboard:") for _, actor in logged)


async def test_a_bad_grant_says_what_is_wrong(shop: Keys, dash: httpx.AsyncClient) -> None:
    """No scopes, an unknown app or the app itself answer the form with the reason."""
    page = await dash.get("/dashboard/federation")
    assert 'name="app_id" id="grant-app" required' in page.text  # a secret key types the id
    csrf = csrf_of(page.text)
    cases = [
        ({"app_id": "app_nope", "scopes": "sessions"}, 404, "app_nope"),
        ({"app_id": shop.app_id, "scopes": "sessions"}, 422, "cannot grant itself"),
        ({"app_id": "app_nope"}, 422, "scopes"),
    ]
    for form, status, message in cases:
        response = await dash.post("/dashboard/federation/grants", data={"csrf": csrf, **form})
        assert status == response.status_code, form
        assert message in response.text, form


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/profiles/a%00b",
        "/dashboard/profiles?q=a%00b",
        "/dashboard/profiles?after=a%00b",
        "/dashboard/segments/a%00b",
        "/dashboard/segments/a%00b/edit",
        "/dashboard/experiments/a%00b",
        "/dashboard/experiments/a%00b/results",
        "/dashboard/recommendations?tried=1&user_id=a%00b",
        "/dashboard/recommendations?tried=1&category=a%00b",
    ],
)
async def test_ids_the_database_cannot_hold_are_a_422_not_a_500(
    dash: httpx.AsyncClient, path: str
) -> None:
    """A NUL in an id of the URL answers a 422 page naming it, on both backends."""
    response = await dash.get(path)
    assert 422 == response.status_code
    assert "without NUL" in response.text
