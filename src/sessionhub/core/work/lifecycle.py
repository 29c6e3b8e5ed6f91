"""The work-session lifecycle: create (blank or from a template), read, update, transition,
archive and purge.

``draft`` -> ``active`` <-> ``paused`` -> ``completed``; ``cancelled`` from any open state;
DELETE archives from any state. The ``sessions`` row stays ``active`` while the work
session is open and ends (reason ``completed``, ``cancelled`` or ``archived``) when it
closes. Each transition is stamped; the actual duration counts active time only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.core.merge_patch import merge_patch
from sessionhub.core.session_rows import check_json_size
from sessionhub.core.sessions import effective_end, new_session_row
from sessionhub.core.work.access import (
    ALLOWED,
    OPEN,
    PRIORITY_RANK,
    active_ms,
    bump,
    check_actor,
    check_version,
    plan_for,
    reindex,
    search_doc,
    to_model,
)
from sessionhub.core.work.notify import Part
from sessionhub.errors import Conflict, InvalidInput
from sessionhub.ids import new_id
from sessionhub.models.work import TemplateSpec, WorkCreate, WorkSession, WorkUpdate
from sessionhub.storage import sessions as sq
from sessionhub.storage import work as wq
from sessionhub.storage import work_plan as pq
from sessionhub.storage.prepared import Row
from sessionhub.storage.schema_work import work_goal_deps, work_goals, work_milestones

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

END_REASON = {"completed": "completed", "cancelled": "cancelled", "archived": "archived"}


def _plan_items(
    sid: int, spec: TemplateSpec, actor: str, now: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Goal, dependency and milestone rows for a new session made from ``spec``."""
    milestone_ids = [new_id("mst") for _ in spec.milestones]
    goal_ids = [new_id("gol") for _ in spec.goals]
    milestones = [
        {
            "id": milestone_ids[i],
            "session_sid": sid,
            "name": m.name,
            "target_offset_s": m.target_offset_s,
            "position": i,
            "created_at": now,
        }
        for i, m in enumerate(spec.milestones)
    ]
    goals = [
        {
            "id": goal_ids[i],
            "session_sid": sid,
            "parent_id": goal_ids[g.parent] if g.parent is not None else None,
            "milestone_id": milestone_ids[g.milestone] if g.milestone is not None else None,
            "title": g.title,
            "description": g.description,
            "status": "todo",
            "estimate_s": g.estimate_s,
            "success_criteria": g.success_criteria,
            "category": g.category,
            "skills": g.skills,
            "position": i,
            "version": 1,
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
            "done_at": None,
        }
        for i, g in enumerate(spec.goals)
    ]
    deps = [
        {"goal_id": goal_ids[i], "depends_on": goal_ids[other], "session_sid": sid}
        for i, g in enumerate(spec.goals)
        for other in g.depends_on
    ]
    return goals, deps, milestones


def _create(
    conn: Connection,
    session_row: dict[str, Any],
    plan: dict[str, Any],
    spec: TemplateSpec | None,
    actor: str,
    now: int,
) -> Row:
    inserted = sq.insert_session(conn, session_row)
    if inserted is None:
        raise Conflict(
            f"A session {session_row['id']!r} exists already.",
            code="session_exists",
            details={"session_id": session_row["id"]},
        )
    sid = inserted["sid"]
    plan["session_sid"] = sid
    goals, deps, milestones = _plan_items(sid, spec, actor, now) if spec else ([], [], [])
    plan["search_doc"] = search_doc(plan, goals, [])
    wq.insert_plan(conn, plan)
    wq.add_member(conn, plan["app_id"], sid, actor, "owner", now)
    pq.add_many(conn, work_milestones, milestones)
    pq.add_many(conn, work_goals, goals)
    pq.add_many(conn, work_goal_deps, deps)
    return plan


def _update(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    patch: WorkUpdate,
    expected: int | None,
    now: int,
) -> tuple[Row, str]:
    plan, role = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    check_version(plan, expected, role, now)
    values = patch.model_dump(exclude_unset=True, exclude={"custom"})
    if "name" in values and values["name"] is None:
        raise InvalidInput("name cannot be null.", details={"field": "name"})
    for field in ("description", "type", "priority", "skills"):
        if field in values and values[field] is None:
            del values[field]
    if "priority" in values:
        values["priority_rank"] = PRIORITY_RANK[values["priority"]]
    if patch.custom is not None:
        values["custom"] = merge_patch(plan["custom"], patch.custom)
        check_json_size(values["custom"], "custom")
    updated = bump(conn, plan, values, now)
    if "name" in values or "description" in values:
        reindex(conn, updated)
    return updated, role


def _transition(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    to: str,
    expected: int | None,
    now: int,
) -> tuple[Row, str]:
    plan, role = plan_for(conn, app_id, session_id, actor, "owner", lock=True)
    check_version(plan, expected, role, now)
    current = plan["status"]
    if to != "archived" and to not in ALLOWED[current]:
        raise Conflict(
            f"A {current} work session can't become {to}; it may become: "
            f"{', '.join(ALLOWED[current]) or 'nothing (it is closed)'}.",
            code="illegal_transition",
            details={"from": current, "to": to, "allowed": list(ALLOWED[current])},
        )
    if to == "archived" and current == "archived":
        return plan, role
    values: dict[str, Any] = {
        "status": to,
        "transitions": [*plan["transitions"], {"from": current, "to": to, "at": now, "by": actor}],
    }
    if current == "active":  # the active stretch ends here
        values["active_ms"] = active_ms(plan, now)
        values["active_since"] = None
    if to == "active":
        values["active_since"] = now
        if plan["started_at"] is None:
            values["started_at"] = now
    if to in ("completed", "cancelled", "archived"):
        values[f"{to}_at"] = now
        if current in OPEN:
            _end_session(conn, app_id, session_id, END_REASON[to], now)
    return bump(conn, plan, values, now), role


def _end_session(conn: Connection, app_id: str, session_id: str, reason: str, now: int) -> None:
    row = sq.get_for_update(conn, app_id, session_id)
    if row is not None and effective_end(row, now) is None:
        sq.end(conn, row["sid"], now, reason, {"last_activity_at": now})


def _purge(conn: Connection, app_id: str, session_id: str, actor: str, now: int) -> list[str]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "owner", lock=True)
    if plan["status"] != "archived":
        raise Conflict(
            "Only an archived work session can be purged: archive it (DELETE) first.",
            code="illegal_transition",
            details={"from": plan["status"], "to": "purged", "allowed": ["archived"]},
        )
    files = pq.attachment_ids(conn, plan["session_sid"])
    wq.purge(conn, plan["session_sid"], now)
    return files


def _get(conn: Connection, app_id: str, session_id: str, actor: str) -> tuple[Row, str]:
    return plan_for(conn, app_id, session_id, actor, "viewer")


class Lifecycle(Part):
    """Create work sessions and move them through their states."""

    def __init__(self, engine: Engine):
        super().__init__(engine)

    async def create(self, app_id: str, actor: str, req: WorkCreate) -> WorkSession:
        """A new draft owned by ``actor``, blank or from a template (its goals and milestones)."""
        check_actor(actor)
        spec: TemplateSpec | None = None
        version: int | None = None
        if req.template_id is not None:
            template = await self._engine.work.templates.get(
                app_id, actor, req.template_id, req.template_version
            )
            spec, version = template.spec, template.version
        name = req.name or (spec.name if spec else None)
        if name is None:
            raise InvalidInput("A blank work session needs a name.", details={"field": "name"})
        check_json_size(req.custom, "custom")
        settings = await self._engine.apps.settings(app_id)
        now = self._clock.now_ms()
        session_id = req.id or new_id("ses")
        session_row = new_session_row(app_id, session_id, "work", settings, now, {}, user_id=actor)
        priority = req.priority or (spec.priority if spec else "medium")
        plan = {
            "app_id": app_id,
            "id": session_id,
            "owner_id": actor,
            "status": "draft",
            "name": name,
            "description": req.description
            if req.description is not None
            else (spec.description if spec else ""),
            "type": req.type or (spec.type if spec else "general"),
            "priority": priority,
            "priority_rank": PRIORITY_RANK[priority],
            "estimate_s": req.estimate_s or (spec.estimate_s if spec else None),
            "difficulty": req.difficulty or (spec.difficulty if spec else None),
            "skills": req.skills if req.skills is not None else (spec.skills if spec else []),
            "custom": {**(spec.custom if spec else {}), **req.custom},
            "template_id": req.template_id,
            "template_version": version,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "completed_at": None,
            "cancelled_at": None,
            "archived_at": None,
            "active_since": None,
            "active_ms": 0,
            "transitions": [],
            "search_doc": "",
        }
        stored = await self._db.write(_create, session_row, plan, spec, actor, now)
        return to_model(stored, "owner", now)

    async def get(self, app_id: str, actor: str, session_id: str) -> WorkSession:
        check_actor(actor)
        plan, role = await self._db.read(_get, app_id, session_id, actor)
        return to_model(plan, role, self._clock.now_ms())

    async def update(
        self,
        app_id: str,
        actor: str,
        session_id: str,
        patch: WorkUpdate,
        expected_version: int | None = None,
    ) -> WorkSession:
        """Change the plan's fields (collaborators and owners); a stale version is a 409."""
        check_actor(actor)
        now = self._clock.now_ms()
        plan, role = await self._db.write(
            _update, app_id, session_id, actor, patch, expected_version, now
        )
        session = to_model(plan, role, now)
        await self.notify(app_id, session_id, plan["session_sid"], "session", _brief(session))
        return session

    async def transition(
        self,
        app_id: str,
        actor: str,
        session_id: str,
        to: str,
        expected_version: int | None = None,
    ) -> WorkSession:
        """Move the session to ``to`` (owners only); an illegal move is a 409 listing the legal ones."""
        check_actor(actor)
        now = self._clock.now_ms()
        plan, role = await self._db.write(
            _transition, app_id, session_id, actor, to, expected_version, now
        )
        session = to_model(plan, role, now)
        await self.notify(app_id, session_id, plan["session_sid"], "status", _brief(session))
        return session

    async def archive(
        self, app_id: str, actor: str, session_id: str, expected_version: int | None = None
    ) -> WorkSession:
        """Archive the session (from any state): read-only from then on."""
        return await self.transition(app_id, actor, session_id, "archived", expected_version)

    async def purge(self, app_id: str, actor: str, session_id: str) -> None:
        """Remove an archived session for good: its plan, its talk and its files."""
        check_actor(actor)
        files = await self._db.write(_purge, app_id, session_id, actor, self._clock.now_ms())
        self._engine.work.attachments.remove_files(app_id, files)


def _brief(session: WorkSession) -> dict[str, Any]:
    return {
        "status": session.status,
        "version": session.version,
        "name": session.name,
        "active_s": session.active_s,
    }
