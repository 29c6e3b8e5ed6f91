"""Goals: a tree of sub-goals with ``depends_on`` links between them.

A link that would close a loop (in the tree or among dependencies) is a 422
dependency_cycle, and a goal can't be done while a goal it depends on is still open
(409 goal_blocked, naming them). Goals carry their own version for If-Match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.work.access import check_actor, plan_for, reindex
from sessionhub.core.work.graph import find_cycle
from sessionhub.core.work.notify import Part
from sessionhub.core.work.progress import CLOSED
from sessionhub.errors import Conflict, InvalidInput, NotFound
from sessionhub.ids import new_id
from sessionhub.models.work import Goal, GoalCreate, Goals, GoalUpdate
from sessionhub.storage import work_plan as pq
from sessionhub.storage.prepared import Row
from sessionhub.storage.schema_work import work_goals, work_milestones


def goal_model(row: Mapping[str, Any], depends_on: list[str]) -> Goal:
    return Goal(
        id=row["id"],
        parent_id=row["parent_id"],
        milestone_id=row["milestone_id"],
        title=row["title"],
        description=row["description"],
        status=row["status"],
        estimate_s=row["estimate_s"],
        category=row["category"],
        success_criteria=row["success_criteria"],
        skills=row["skills"],
        depends_on=depends_on,
        position=row["position"],
        version=row["version"],
        created_by=row["created_by"],
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
        done_at=from_ms(row["done_at"]) if row["done_at"] is not None else None,
    )


def no_goal(goal_id: str, field: str = "goal_id") -> NotFound:
    return NotFound(f"No goal {goal_id!r} in this work session.", details={field: goal_id})


def _check_links(
    conn: Connection,
    sid: int,
    goal_id: str,
    status: str,
    parent_id: str | None,
    milestone_id: str | None,
    depends_on: list[str],
) -> None:
    """Refuse unknown goals or milestone (404/422), cycles (422), and done-while-blocked (409)."""
    goals = {g["id"]: g for g in pq.goals(conn, sid)}
    if parent_id is not None:
        if parent_id not in goals:
            raise InvalidInput(
                f"No goal {parent_id!r} to be the parent.", details={"field": "parent_id"}
            )
        parents = {g: [row["parent_id"]] for g, row in goals.items() if row["parent_id"]}
        parents[goal_id] = [parent_id]
        cycle = find_cycle(parents)
        if cycle is not None:
            raise _cycle("parent_id", cycle)
    if milestone_id is not None and pq.item(conn, work_milestones, sid, milestone_id) is None:
        raise InvalidInput(f"No milestone {milestone_id!r}.", details={"field": "milestone_id"})
    for other in depends_on:
        if other not in goals:
            raise InvalidInput(f"No goal {other!r} to depend on.", details={"field": "depends_on"})
    edges: dict[str, list[str]] = {}
    for a, b in pq.deps(conn, sid):
        if a != goal_id:
            edges.setdefault(a, []).append(b)
    edges[goal_id] = list(depends_on)
    cycle = find_cycle(edges)
    if cycle is not None:
        raise _cycle("depends_on", cycle)
    if status == "done":
        open_ones = [other for other in depends_on if goals[other]["status"] not in CLOSED]
        if open_ones:
            raise Conflict(
                f"Goal {goal_id!r} can't be done while goals it depends on are open: {open_ones}.",
                code="goal_blocked",
                details={"goal_id": goal_id, "open_dependencies": open_ones},
            )


def _cycle(field: str, cycle: list[str]) -> InvalidInput:
    return InvalidInput(
        f"That {field} would make a cycle: {' -> '.join(cycle)}.",
        code="dependency_cycle",
        details={"field": field, "cycle": cycle},
    )


def _deps_of(conn: Connection, sid: int, goal_id: str) -> list[str]:
    return sorted(b for a, b in pq.deps(conn, sid) if a == goal_id)


def _create(
    conn: Connection, app_id: str, session_id: str, actor: str, req: GoalCreate, now: int
) -> tuple[Row, list[str], int]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    sid = plan["session_sid"]
    goal_id = new_id("gol")
    depends_on = sorted(set(req.depends_on))
    _check_links(conn, sid, goal_id, req.status, req.parent_id, req.milestone_id, depends_on)
    row = {
        "id": goal_id,
        "session_sid": sid,
        "parent_id": req.parent_id,
        "milestone_id": req.milestone_id,
        "title": req.title,
        "description": req.description,
        "status": req.status,
        "estimate_s": req.estimate_s,
        "success_criteria": req.success_criteria,
        "category": req.category,
        "skills": req.skills,
        "position": pq.next_position(conn, work_goals, sid),
        "version": 1,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
        "done_at": now if req.status == "done" else None,
    }
    pq.add(conn, work_goals, row)
    pq.set_deps(conn, sid, goal_id, depends_on)
    reindex(conn, plan)
    return row, depends_on, sid


def _update(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    goal_id: str,
    patch: GoalUpdate,
    expected: int | None,
    now: int,
) -> tuple[Row, list[str], int]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    sid = plan["session_sid"]
    row = pq.item(conn, work_goals, sid, goal_id)
    if row is None:
        raise no_goal(goal_id)
    current_deps = _deps_of(conn, sid, goal_id)
    if expected is not None and expected != row["version"]:
        raise Conflict(
            f"Goal {goal_id!r} changed since version {expected} (now {row['version']}).",
            code="version_mismatch",
            details={
                "expected": expected,
                "version": row["version"],
                "current": goal_model(row, current_deps).model_dump(mode="json"),
            },
        )
    values = patch.model_dump(exclude_unset=True, exclude={"depends_on"})
    for field in ("title", "description", "status", "category", "success_criteria", "skills"):
        if field in values and values[field] is None:
            raise InvalidInput(f"{field} cannot be null.", details={"field": field})
    merged = {**row, **values}
    depends_on = sorted(set(patch.depends_on)) if patch.depends_on is not None else current_deps
    _check_links(
        conn,
        sid,
        goal_id,
        merged["status"],
        merged["parent_id"],
        merged["milestone_id"],
        depends_on,
    )
    if merged["status"] == "done" and row["status"] != "done":
        values["done_at"] = now
    elif merged["status"] != "done":
        values["done_at"] = None
    updated = pq.change(
        conn, work_goals, goal_id, {**values, "version": row["version"] + 1, "updated_at": now}
    )
    if patch.depends_on is not None:
        pq.set_deps(conn, sid, goal_id, depends_on)
    if "title" in values or "description" in values:
        reindex(conn, plan)
    return updated, depends_on, sid


def _delete(conn: Connection, app_id: str, session_id: str, actor: str, goal_id: str) -> int:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    sid = plan["session_sid"]
    if pq.item(conn, work_goals, sid, goal_id) is None:
        raise no_goal(goal_id)
    pq.remove_goal(conn, goal_id)
    reindex(conn, plan)
    return int(sid)


def _list(
    conn: Connection, app_id: str, session_id: str, actor: str
) -> tuple[list[Row], list[tuple[str, str]]]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    sid = plan["session_sid"]
    return pq.goals(conn, sid), pq.deps(conn, sid)


def goals_with_deps(rows: list[Row], deps: list[tuple[str, str]]) -> list[Goal]:
    by_goal: dict[str, list[str]] = {}
    for a, b in deps:
        by_goal.setdefault(a, []).append(b)
    return [goal_model(row, sorted(by_goal.get(row["id"], []))) for row in rows]


class GoalsPart(Part):
    """Goals of a work session."""

    async def create(self, app_id: str, actor: str, session_id: str, req: GoalCreate) -> Goal:
        check_actor(actor)
        now = self._clock.now_ms()
        row, deps, sid = await self._db.write(_create, app_id, session_id, actor, req, now)
        goal = goal_model(row, deps)
        await self._changed(app_id, actor, session_id, sid, goal)
        return goal

    async def list(self, app_id: str, actor: str, session_id: str) -> Goals:
        check_actor(actor)
        rows, deps = await self._db.read(_list, app_id, session_id, actor)
        return Goals(items=goals_with_deps(rows, deps))

    async def update(
        self,
        app_id: str,
        actor: str,
        session_id: str,
        goal_id: str,
        patch: GoalUpdate,
        expected_version: int | None = None,
    ) -> Goal:
        check_actor(actor)
        now = self._clock.now_ms()
        row, deps, sid = await self._db.write(
            _update, app_id, session_id, actor, goal_id, patch, expected_version, now
        )
        goal = goal_model(row, deps)
        await self._changed(app_id, actor, session_id, sid, goal)
        return goal

    async def delete(self, app_id: str, actor: str, session_id: str, goal_id: str) -> None:
        check_actor(actor)
        sid = await self._db.write(_delete, app_id, session_id, actor, goal_id)
        await self._changed(app_id, actor, session_id, sid, None)

    async def _changed(
        self, app_id: str, actor: str, session_id: str, sid: int, goal: Goal | None
    ) -> None:
        if not self.watched(app_id, session_id):
            return
        if goal is not None:
            await self.notify(app_id, session_id, sid, "goal", goal.model_dump(mode="json"))
        progress = await self._engine.work.progress.get(app_id, actor, session_id)
        await self.notify(app_id, session_id, sid, "progress", progress.model_dump(mode="json"))
