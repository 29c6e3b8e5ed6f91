"""Milestones (groups of goals with a target offset from the start), blockers (open,
resolve, time lost) and the progress they add up to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.work.access import active_ms, check_actor, plan_for
from sessionhub.core.work.goals import no_goal
from sessionhub.core.work.notify import Part
from sessionhub.core.work.progress import leaves, milestone_state, percent_done
from sessionhub.errors import Conflict, InvalidInput, NotFound
from sessionhub.ids import new_id
from sessionhub.models.work import (
    Blocker,
    BlockerCreate,
    BlockerResolve,
    Blockers,
    Milestone,
    MilestoneCreate,
    MilestoneProgress,
    Milestones,
    MilestoneUpdate,
    Progress,
)
from sessionhub.storage import work_plan as pq
from sessionhub.storage.prepared import Row
from sessionhub.storage.schema_work import work_blockers, work_goals, work_milestones


def milestone_model(row: Mapping[str, Any], plan: Mapping[str, Any], goals: list[Row]) -> Milestone:
    mine = [g for g in goals if g["milestone_id"] == row["id"]]
    status, completed_at = milestone_state(mine)
    offset, started = row["target_offset_s"], plan["started_at"]
    return Milestone(
        id=row["id"],
        name=row["name"],
        position=row["position"],
        target_offset_s=offset,
        target_at=from_ms(started + offset * 1000) if offset is not None and started else None,
        goal_ids=[g["id"] for g in mine],
        status=status,
        completed_at=from_ms(completed_at) if completed_at is not None else None,
        percent_done=percent_done(mine)[0],
    )


def blocker_model(row: Mapping[str, Any]) -> Blocker:
    lost = row["time_lost_ms"]
    return Blocker(
        id=row["id"],
        goal_id=row["goal_id"],
        description=row["description"],
        status="resolved" if row["resolved_at"] is not None else "open",
        opened_by=row["opened_by"],
        opened_at=from_ms(row["opened_at"]),
        resolved_by=row["resolved_by"],
        resolved_at=from_ms(row["resolved_at"]) if row["resolved_at"] is not None else None,
        resolution=row["resolution"],
        time_lost_s=lost / 1000 if lost is not None else None,
    )


def _no_milestone(milestone_id: str) -> NotFound:
    return NotFound(f"No milestone {milestone_id!r}.", details={"milestone_id": milestone_id})


def _check_goals(conn: Connection, sid: int, goal_ids: list[str]) -> list[str]:
    known = {g["id"] for g in pq.goals(conn, sid)}
    unknown = [g for g in goal_ids if g not in known]
    if unknown:
        raise InvalidInput(
            f"No goals {unknown}.", details={"field": "goal_ids", "unknown": unknown}
        )
    return sorted(set(goal_ids))


def _save_milestone(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    milestone_id: str | None,
    values: dict[str, Any],
    goal_ids: list[str] | None,
    now: int,
) -> Milestone:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    sid = plan["session_sid"]
    if goal_ids is not None:
        goal_ids = _check_goals(conn, sid, goal_ids)
    if milestone_id is None:
        milestone_id = new_id("mst")
        row = {
            "id": milestone_id,
            "session_sid": sid,
            "position": pq.next_position(conn, work_milestones, sid),
            "created_at": now,
            **values,
        }
        pq.add(conn, work_milestones, row)
    else:
        if pq.item(conn, work_milestones, sid, milestone_id) is None:
            raise _no_milestone(milestone_id)
        if values:
            row = pq.change(conn, work_milestones, milestone_id, values)
        else:
            row = pq.item(conn, work_milestones, sid, milestone_id) or {}
    if goal_ids is not None:
        pq.assign_milestone(conn, sid, milestone_id, goal_ids)
    return milestone_model(row, plan, pq.goals(conn, sid))


def _delete_milestone(
    conn: Connection, app_id: str, session_id: str, actor: str, milestone_id: str
) -> None:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    if pq.item(conn, work_milestones, plan["session_sid"], milestone_id) is None:
        raise _no_milestone(milestone_id)
    pq.remove_milestone(conn, plan["session_sid"], milestone_id)


def _milestones(conn: Connection, app_id: str, session_id: str, actor: str) -> list[Milestone]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    sid = plan["session_sid"]
    goals = pq.goals(conn, sid)
    rows = pq.items(conn, work_milestones, sid, work_milestones.c.position)
    return [milestone_model(row, plan, goals) for row in rows]


def _open_blocker(
    conn: Connection, app_id: str, session_id: str, actor: str, req: BlockerCreate, now: int
) -> Row:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    sid = plan["session_sid"]
    if req.goal_id is not None and pq.item(conn, work_goals, sid, req.goal_id) is None:
        raise no_goal(req.goal_id)
    row = {
        "id": new_id("blk"),
        "session_sid": sid,
        "goal_id": req.goal_id,
        "description": req.description,
        "opened_by": actor,
        "opened_at": now,
        "resolved_by": None,
        "resolved_at": None,
        "resolution": None,
        "time_lost_ms": None,
    }
    pq.add(conn, work_blockers, row)
    return row


def _resolve_blocker(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    blocker_id: str,
    req: BlockerResolve,
    now: int,
) -> Row:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    row = pq.item(conn, work_blockers, plan["session_sid"], blocker_id)
    if row is None:
        raise NotFound(f"No blocker {blocker_id!r}.", details={"blocker_id": blocker_id})
    if row["resolved_at"] is not None:
        raise Conflict(
            f"Blocker {blocker_id!r} is resolved already.",
            code="blocker_resolved",
            details={"blocker_id": blocker_id},
        )
    lost = req.time_lost_s * 1000 if req.time_lost_s is not None else max(0, now - row["opened_at"])
    values = {
        "resolved_by": actor,
        "resolved_at": now,
        "resolution": req.resolution,
        "time_lost_ms": lost,
    }
    return pq.change(conn, work_blockers, blocker_id, values)


def _blockers(conn: Connection, app_id: str, session_id: str, actor: str) -> list[Row]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    return pq.items(conn, work_blockers, plan["session_sid"], work_blockers.c.opened_at)


def _progress(conn: Connection, app_id: str, session_id: str, actor: str, now: int) -> Progress:
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    sid = plan["session_sid"]
    goals = pq.goals(conn, sid)
    counted = leaves(goals)
    percent, weighting = percent_done(counted)
    milestones = [
        milestone_model(row, plan, goals)
        for row in pq.items(conn, work_milestones, sid, work_milestones.c.position)
    ]
    blockers = pq.items(conn, work_blockers, sid, work_blockers.c.opened_at)
    return Progress(
        percent_done=percent,
        weighting=weighting,
        goals_total=len(counted),
        goals_done=sum(1 for g in counted if g["status"] == "done"),
        goals_open=sum(1 for g in counted if g["status"] in ("todo", "doing")),
        milestones=[
            MilestoneProgress(id=m.id, name=m.name, status=m.status, percent_done=m.percent_done)
            for m in milestones
        ],
        estimated_s=plan["estimate_s"],
        actual_s=active_ms(plan, now) / 1000,
        blockers_open=sum(1 for b in blockers if b["resolved_at"] is None),
        time_lost_s=sum(b["time_lost_ms"] or 0 for b in blockers) / 1000,
    )


class MilestonesPart(Part):
    async def create(
        self, app_id: str, actor: str, session_id: str, req: MilestoneCreate
    ) -> Milestone:
        check_actor(actor)
        values = {"name": req.name, "target_offset_s": req.target_offset_s}
        return await self._db.write(
            _save_milestone, app_id, session_id, actor, None, values, req.goal_ids, self._now()
        )

    async def update(
        self, app_id: str, actor: str, session_id: str, milestone_id: str, req: MilestoneUpdate
    ) -> Milestone:
        check_actor(actor)
        values = req.model_dump(exclude_unset=True, exclude={"goal_ids"})
        if "name" in values and values["name"] is None:
            raise InvalidInput("name cannot be null.", details={"field": "name"})
        return await self._db.write(
            _save_milestone,
            app_id,
            session_id,
            actor,
            milestone_id,
            values,
            req.goal_ids,
            self._now(),
        )

    async def delete(self, app_id: str, actor: str, session_id: str, milestone_id: str) -> None:
        check_actor(actor)
        await self._db.write(_delete_milestone, app_id, session_id, actor, milestone_id)

    async def list(self, app_id: str, actor: str, session_id: str) -> Milestones:
        check_actor(actor)
        return Milestones(items=await self._db.read(_milestones, app_id, session_id, actor))

    def _now(self) -> int:
        return self._clock.now_ms()


class BlockersPart(Part):
    async def open(self, app_id: str, actor: str, session_id: str, req: BlockerCreate) -> Blocker:
        check_actor(actor)
        row = await self._db.write(
            _open_blocker, app_id, session_id, actor, req, self._clock.now_ms()
        )
        blocker = blocker_model(row)
        await self.notify(
            app_id, session_id, row["session_sid"], "blocker", blocker.model_dump(mode="json")
        )
        return blocker

    async def resolve(
        self, app_id: str, actor: str, session_id: str, blocker_id: str, req: BlockerResolve
    ) -> Blocker:
        check_actor(actor)
        row = await self._db.write(
            _resolve_blocker, app_id, session_id, actor, blocker_id, req, self._clock.now_ms()
        )
        blocker = blocker_model(row)
        await self.notify(
            app_id, session_id, row["session_sid"], "blocker", blocker.model_dump(mode="json")
        )
        return blocker

    async def list(self, app_id: str, actor: str, session_id: str) -> Blockers:
        check_actor(actor)
        rows = await self._db.read(_blockers, app_id, session_id, actor)
        return Blockers(items=[blocker_model(row) for row in rows])


class ProgressPart(Part):
    async def get(self, app_id: str, actor: str, session_id: str) -> Progress:
        """Percent done (weighted by estimates), per milestone, estimated vs actual, blockers."""
        check_actor(actor)
        return await self._db.read(_progress, app_id, session_id, actor, self._clock.now_ms())
