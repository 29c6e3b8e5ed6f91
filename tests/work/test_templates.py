"""Templates: the built-in three, custom ones per app and user, versions, validation."""

from __future__ import annotations

from typing import Any

from tests.work.conftest import Call, new_session

SPEC: dict[str, Any] = {
    "name": "Release",
    "estimate_s": 3600,
    "skills": ["ops"],
    "milestones": [{"name": "Tagged", "target_offset_s": 1200}],
    "goals": [
        {"title": "Tag", "estimate_s": 600, "milestone": 0, "skills": ["git"]},
        {"title": "Publish", "estimate_s": 1200, "depends_on": [0]},
        {"title": "Announce", "parent": 1, "category": "documentation"},
    ],
}


async def test_the_built_in_templates_are_as_specified(call: Call) -> None:
    """Bug Fix (90 min), Feature Development (180 min) and Research & Exploration (120 min),
    with the issue's goals in order, whose estimates add up to the template's duration."""
    listed = (await call("GET", "/v1/work/templates")).json()
    builtin = {t["spec"]["name"]: t["spec"] for t in listed if t["scope"] == "builtin"}
    expected = {
        "Bug Fix": (90, ["Reproduce", "Find the root cause", "Fix", "Test", "Document"]),
        "Feature Development": (180, ["Plan", "Implement", "Test", "Document", "Review"]),
        "Research & Exploration": (
            120,
            ["Frame the question", "Gather", "Analyse", "Summarise"],
        ),
    }
    got = {
        name: (spec["estimate_s"] // 60, [g["title"] for g in spec["goals"]])
        for name, spec in builtin.items()
    }
    assert expected == got
    for spec in builtin.values():
        assert spec["estimate_s"] == sum(g["estimate_s"] for g in spec["goals"])
        assert spec["difficulty"] is not None
        assert spec["milestones"]


async def test_a_session_from_a_template_gets_its_goals_links_and_milestones(call: Call) -> None:
    """Creating from Bug Fix copies its five goals in a dependency chain, grouped into its milestones."""
    work = await new_session(call, template_id="tpl_bug_fix", name="Login bug")
    assert ("Login bug", "tpl_bug_fix", 1, 5400) == (
        work["name"],
        work["template_id"],
        work["template_version"],
        work["estimate_s"],
    )
    goals = (await call("GET", f"/v1/work/sessions/{work['id']}/goals")).json()["items"]
    assert [[], [goals[0]["id"]], [goals[1]["id"]]] == [g["depends_on"] for g in goals[:3]]
    milestones = (await call("GET", f"/v1/work/sessions/{work['id']}/milestones")).json()["items"]
    assert [2, 2, 1] == [len(m["goal_ids"]) for m in milestones]


async def test_custom_templates_are_versioned_and_sessions_keep_theirs(call: Call) -> None:
    """Editing makes version 2; a session made from version 1 still says version 1, a new one gets 2."""
    created = await call("POST", "/v1/work/templates", json={"spec": SPEC, "scope": "app"})
    assert 201 == created.status_code, created.text
    template = created.json()
    old = await new_session(call, template_id=template["id"])
    changed = {**SPEC, "name": "Release v2"}
    updated = await call("PUT", f"/v1/work/templates/{template['id']}", json=changed)
    assert (2, "Release v2") == (updated.json()["version"], updated.json()["spec"]["name"])
    new = await new_session(call, template_id=template["id"])
    assert (1, 2) == (old["template_version"], new["template_version"])
    pinned = await new_session(call, template_id=template["id"], template_version=1)
    assert "Release" == pinned["name"]
    versions = (await call("GET", f"/v1/work/templates/{template['id']}/versions")).json()
    assert [2, 1] == [v["version"] for v in versions]


async def test_user_templates_are_private_and_app_templates_shared(call: Call) -> None:
    """Bob sees the app template, not alice's own; only its creator may edit a template."""
    mine = (await call("POST", "/v1/work/templates", json={"spec": SPEC})).json()
    shared = (await call("POST", "/v1/work/templates", json={"spec": SPEC, "scope": "app"})).json()
    bobs = {t["id"] for t in (await call("GET", "/v1/work/templates", user="bob")).json()}
    assert (False, True) == (mine["id"] in bobs, shared["id"] in bobs)
    assert 404 == (await call("GET", f"/v1/work/templates/{mine['id']}", user="bob")).status_code
    edit = await call("PUT", f"/v1/work/templates/{shared['id']}", user="bob", json=SPEC)
    assert (403, "template_forbidden") == (edit.status_code, edit.json()["error"]["code"])


async def test_a_template_saved_from_a_session_reproduces_its_plan(call: Call) -> None:
    """Saving a finished session's plan as a template keeps its goals, links and milestones."""
    source = await new_session(call, template_id="tpl_feature")
    saved = await call(
        "POST", "/v1/work/templates", json={"from_session": source["id"], "name": "My feature"}
    )
    spec = saved.json()["spec"]
    assert ("My feature", 5, [[], [0], [1], [2], [3]]) == (
        spec["name"],
        len(spec["goals"]),
        [g["depends_on"] for g in spec["goals"]],
    )
    assert [0, 1, 1, 2, 2] == [g["milestone"] for g in spec["goals"]]


async def test_invalid_templates_are_refused(call: Call) -> None:
    """An index out of range is a 422 naming it; a dependency loop is a 422 dependency_cycle; spec and from_session together is a 422."""
    bad_ref = {**SPEC, "goals": [{"title": "x", "depends_on": [5]}]}
    loop = {**SPEC, "goals": [{"title": "a", "depends_on": [1]}, {"title": "b", "depends_on": [0]}]}
    ref = await call("POST", "/v1/work/templates", json={"spec": bad_ref})
    cyc = await call("POST", "/v1/work/templates", json={"spec": loop})
    both = await call("POST", "/v1/work/templates", json={"spec": SPEC, "from_session": "x"})
    assert (422, ["spec", "goals", 0, "depends_on"]) == (
        ref.status_code,
        ref.json()["error"]["details"]["errors"][0]["loc"],
    )
    assert (422, "dependency_cycle") == (cyc.status_code, cyc.json()["error"]["code"])
    assert 422 == both.status_code


async def test_an_unknown_template_or_version_is_a_404(call: Call) -> None:
    """Creating from a template that does not exist (or a version it never had) is a 404."""
    for body in (
        {"template_id": "tpl_nope"},
        {"template_id": "tpl_bug_fix", "template_version": 2},
    ):
        response = await call("POST", "/v1/work/sessions", json=body)
        assert 404 == response.status_code
