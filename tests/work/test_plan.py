"""Goals, milestones, blockers and progress of a work session."""

from __future__ import annotations

from typing import Any

import pytest

from sessionhub import FakeClock
from sessionhub.core.work.graph import find_cycle
from sessionhub.core.work.progress import leaves, milestone_state, percent_done
from tests.work.conftest import Call, new_session


async def add_goal(call: Call, session_id: str, **body: Any) -> dict[str, Any]:
    response = await call("POST", f"/v1/work/sessions/{session_id}/goals", json=body)
    assert 201 == response.status_code, response.text
    goal: dict[str, Any] = response.json()
    return goal


async def set_status(call: Call, session_id: str, goal_id: str, status: str) -> Any:
    return await call(
        "PATCH", f"/v1/work/sessions/{session_id}/goals/{goal_id}", json={"status": status}
    )


async def test_goals_form_a_tree_with_dependencies(call: Call) -> None:
    """Sub-goals name their parent and dependencies are listed with each goal, in order."""
    work = await new_session(call)
    top = await add_goal(call, work["id"], title="Ship", category="planning")
    sub = await add_goal(call, work["id"], title="Code", parent_id=top["id"])
    test = await add_goal(call, work["id"], title="Test", depends_on=[sub["id"]])
    listed = (await call("GET", f"/v1/work/sessions/{work['id']}/goals")).json()["items"]
    assert [("Ship", None, []), ("Code", top["id"], []), ("Test", None, [sub["id"]])] == [
        (g["title"], g["parent_id"], g["depends_on"]) for g in listed
    ]
    assert [0, 1, 2] == [g["position"] for g in listed]
    assert test["id"] == listed[2]["id"]


async def test_a_dependency_cycle_is_a_422(call: Call) -> None:
    """a depends on b, b on c: making c depend on a is refused 422 dependency_cycle, naming the loop."""
    work = await new_session(call)
    c = await add_goal(call, work["id"], title="c")
    b = await add_goal(call, work["id"], title="b", depends_on=[c["id"]])
    a = await add_goal(call, work["id"], title="a", depends_on=[b["id"]])
    response = await call(
        "PATCH",
        f"/v1/work/sessions/{work['id']}/goals/{c['id']}",
        json={"depends_on": [a["id"]]},
    )
    error = response.json()["error"]
    assert (422, "dependency_cycle") == (response.status_code, error["code"])
    assert {a["id"], b["id"], c["id"]} == set(error["details"]["cycle"])


async def test_a_goal_can_not_be_its_own_ancestor(call: Call) -> None:
    """Moving a goal under its own sub-goal is a 422 dependency_cycle."""
    work = await new_session(call)
    top = await add_goal(call, work["id"], title="top")
    child = await add_goal(call, work["id"], title="child", parent_id=top["id"])
    response = await call(
        "PATCH",
        f"/v1/work/sessions/{work['id']}/goals/{top['id']}",
        json={"parent_id": child["id"]},
    )
    assert (422, "dependency_cycle") == (response.status_code, response.json()["error"]["code"])


async def test_a_goal_is_not_done_while_a_goal_it_depends_on_is_open(call: Call) -> None:
    """Done is refused 409 goal_blocked while a dependency is open, and allowed once it is done."""
    work = await new_session(call)
    first = await add_goal(call, work["id"], title="first")
    second = await add_goal(call, work["id"], title="second", depends_on=[first["id"]])
    blocked = await set_status(call, work["id"], second["id"], "done")
    error = blocked.json()["error"]
    assert (409, "goal_blocked", [first["id"]]) == (
        blocked.status_code,
        error["code"],
        error["details"]["open_dependencies"],
    )
    await set_status(call, work["id"], first["id"], "done")
    done = await set_status(call, work["id"], second["id"], "done")
    assert ("done", 2) == (done.json()["status"], done.json()["version"])


async def test_a_goal_update_with_a_stale_version_is_a_409(call: Call) -> None:
    """Goals carry their own version: a stale If-Match is 409 version_mismatch with the goal as it is."""
    work = await new_session(call)
    goal = await add_goal(call, work["id"], title="g")
    path = f"/v1/work/sessions/{work['id']}/goals/{goal['id']}"
    await call("PATCH", path, json={"title": "new"}, headers={"If-Match": '"1"'})
    stale = await call("PATCH", path, json={"title": "other"}, headers={"If-Match": '"1"'})
    assert (409, "new") == (stale.status_code, stale.json()["error"]["details"]["current"]["title"])


async def test_unknown_links_are_refused(call: Call) -> None:
    """A parent, dependency or milestone that does not exist in the session is a 422."""
    work = await new_session(call)
    path = f"/v1/work/sessions/{work['id']}/goals"
    for body in (
        {"title": "x", "parent_id": "gol_nope"},
        {"title": "x", "depends_on": ["gol_nope"]},
        {"title": "x", "milestone_id": "mst_nope"},
    ):
        assert 422 == (await call("POST", path, json=body)).status_code


async def test_deleting_a_goal_lifts_its_sub_goals_and_drops_its_links(call: Call) -> None:
    """Removing a middle goal re-parents its children to its parent and removes dependencies on it."""
    work = await new_session(call)
    top = await add_goal(call, work["id"], title="top")
    mid = await add_goal(call, work["id"], title="mid", parent_id=top["id"])
    leaf = await add_goal(
        call, work["id"], title="leaf", parent_id=mid["id"], depends_on=[mid["id"]]
    )
    gone = await call("DELETE", f"/v1/work/sessions/{work['id']}/goals/{mid['id']}")
    assert 204 == gone.status_code
    listed = (await call("GET", f"/v1/work/sessions/{work['id']}/goals")).json()["items"]
    got = next(g for g in listed if g["id"] == leaf["id"])
    assert (top["id"], []) == (got["parent_id"], got["depends_on"])


async def test_progress_is_weighted_by_estimates(call: Call) -> None:
    """Goals of 60 and 20 minutes with the first done: 75 % done; a skipped goal counts for nothing."""
    work = await new_session(call)
    big = await add_goal(call, work["id"], title="big", estimate_s=3600)
    await add_goal(call, work["id"], title="small", estimate_s=1200)
    skipped = await add_goal(call, work["id"], title="skip", estimate_s=6000)
    await set_status(call, work["id"], big["id"], "done")
    await set_status(call, work["id"], skipped["id"], "skipped")
    progress = (await call("GET", f"/v1/work/sessions/{work['id']}/progress")).json()
    assert (75.0, "estimates", 3, 1, 1) == (
        progress["percent_done"],
        progress["weighting"],
        progress["goals_total"],
        progress["goals_done"],
        progress["goals_open"],
    )


async def test_progress_weighs_goals_equally_without_estimates_and_counts_leaves(
    call: Call,
) -> None:
    """Without estimates every leaf goal weighs the same; a parent counts through its sub-goals."""
    work = await new_session(call)
    parent = await add_goal(call, work["id"], title="parent")
    one = await add_goal(call, work["id"], title="one", parent_id=parent["id"])
    await add_goal(call, work["id"], title="two", parent_id=parent["id"])
    await add_goal(call, work["id"], title="three")
    await set_status(call, work["id"], one["id"], "done")
    progress = (await call("GET", f"/v1/work/sessions/{work['id']}/progress")).json()
    assert (33.33, "equal", 3) == (
        progress["percent_done"],
        progress["weighting"],
        progress["goals_total"],
    )


async def test_a_milestone_completes_when_its_goals_are_done(call: Call, clock: FakeClock) -> None:
    """A milestone is open until every goal is done or skipped (one done), then completed at the
    last done time; its target is start + offset."""
    work = await new_session(call)
    await call("POST", f"/v1/work/sessions/{work['id']}/transition", json={"to": "active"})
    a = await add_goal(call, work["id"], title="a")
    b = await add_goal(call, work["id"], title="b")
    created = await call(
        "POST",
        f"/v1/work/sessions/{work['id']}/milestones",
        json={"name": "M1", "target_offset_s": 1800, "goal_ids": [a["id"], b["id"]]},
    )
    milestone = created.json()
    assert ("open", "2026-01-01T00:30:00Z") == (
        milestone["status"],
        milestone["target_at"].replace(".000", ""),
    )
    clock.advance(60)
    await set_status(call, work["id"], a["id"], "done")
    clock.advance(60)
    await set_status(call, work["id"], b["id"], "skipped")
    listed = (await call("GET", f"/v1/work/sessions/{work['id']}/milestones")).json()["items"]
    assert ("completed", "2026-01-01T00:01:00Z", 100.0) == (
        listed[0]["status"],
        listed[0]["completed_at"].replace(".000", ""),
        listed[0]["percent_done"],
    )


async def test_a_milestone_can_be_regrouped_and_removed(call: Call) -> None:
    """PATCH goal_ids replaces the milestone's goals; DELETE leaves the goals without a milestone."""
    work = await new_session(call)
    a = await add_goal(call, work["id"], title="a")
    b = await add_goal(call, work["id"], title="b")
    base = f"/v1/work/sessions/{work['id']}/milestones"
    m = (await call("POST", base, json={"name": "M", "goal_ids": [a["id"]]})).json()
    patched = await call("PATCH", f"{base}/{m['id']}", json={"goal_ids": [b["id"]], "name": "N"})
    assert ("N", [b["id"]]) == (patched.json()["name"], patched.json()["goal_ids"])
    assert 204 == (await call("DELETE", f"{base}/{m['id']}")).status_code
    goals = (await call("GET", f"/v1/work/sessions/{work['id']}/goals")).json()["items"]
    assert [None, None] == [g["milestone_id"] for g in goals]


async def test_blockers_record_the_time_lost(call: Call, clock: FakeClock) -> None:
    """A blocker open 25 minutes costs 1500 s unless the resolver says otherwise; progress sums it."""
    work = await new_session(call)
    base = f"/v1/work/sessions/{work['id']}/blockers"
    first = (await call("POST", base, json={"description": "CI down"})).json()
    second = (await call("POST", base, json={"description": "waiting"})).json()
    clock.advance(1500)
    resolved = await call("POST", f"{base}/{first['id']}/resolve", json={"resolution": "fixed"})
    await call("POST", f"{base}/{second['id']}/resolve", json={"time_lost_s": 100})
    assert ("resolved", 1500.0) == (resolved.json()["status"], resolved.json()["time_lost_s"])
    again = await call("POST", f"{base}/{first['id']}/resolve", json={})
    assert (409, "blocker_resolved") == (again.status_code, again.json()["error"]["code"])
    progress = (await call("GET", f"/v1/work/sessions/{work['id']}/progress")).json()
    assert (0, 1600.0) == (progress["blockers_open"], progress["time_lost_s"])


async def test_viewers_can_not_touch_goals(call: Call) -> None:
    """A viewer reads goals but adding one is 403."""
    work = await new_session(call)
    await call(
        "POST", f"/v1/work/sessions/{work['id']}/members", json={"user_id": "v", "role": "viewer"}
    )
    path = f"/v1/work/sessions/{work['id']}/goals"
    assert 200 == (await call("GET", path, user="v")).status_code
    assert 403 == (await call("POST", path, user="v", json={"title": "x"})).status_code


@pytest.mark.parametrize(
    ("edges", "has_cycle"),
    [
        ({}, False),
        ({1: [2], 2: [3]}, False),
        ({1: [1]}, True),
        ({1: [2], 2: [3], 3: [1]}, True),
        ({1: [2, 3], 2: [4], 3: [4]}, False),  # a diamond is no cycle
    ],
)
def test_find_cycle(edges: dict[int, list[int]], has_cycle: bool) -> None:
    """find_cycle spots loops (self-loops included) and not diamonds."""
    cycle = find_cycle(edges)
    assert has_cycle == (cycle is not None)
    if cycle is not None:
        assert cycle[0] == cycle[-1]


def test_percent_done_fills_missing_estimates_with_the_mean() -> None:
    """A goal without an estimate weighs the mean of the estimated ones (here 100)."""
    goals = [
        {"id": "a", "parent_id": None, "status": "done", "estimate_s": 50},
        {"id": "b", "parent_id": None, "status": "todo", "estimate_s": 150},
        {"id": "c", "parent_id": None, "status": "done", "estimate_s": None},
    ]
    assert (50.0, "estimates") == percent_done(leaves(goals))


def test_a_milestone_of_skipped_goals_only_stays_open() -> None:
    """Skipping every goal does not complete a milestone: at least one must be done."""
    goals = [{"status": "skipped", "done_at": None}]
    assert ("open", None) == milestone_state(goals)
