"""Goals, milestones, blockers and progress of a work session, under /v1/work/sessions/{id}."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from sessionhub.api.params import SessionPath
from sessionhub.api.responses import json_response
from sessionhub.api.routers.work_params import (
    BlockerPath,
    GoalPath,
    IfMatch,
    MilestonePath,
    WorkCaller,
    versioned,
)
from sessionhub.models.work import (
    Blocker,
    BlockerCreate,
    BlockerResolve,
    Blockers,
    Goal,
    GoalCreate,
    Goals,
    GoalUpdate,
    Milestone,
    MilestoneCreate,
    Milestones,
    MilestoneUpdate,
    Progress,
)

router = APIRouter(prefix="/v1/work/sessions/{session_id}", tags=["work"])


@router.post("/goals", response_model=Goal, status_code=201)
async def create_goal(session_id: SessionPath, body: GoalCreate, actor: WorkCaller) -> Response:
    """Add a goal (collaborators, owners). A dependency cycle is a 422 dependency_cycle."""
    goal = await actor.work.goals.create(actor.app_id, actor.user_id, session_id, body)
    return versioned(goal, goal.version, 201)


@router.get("/goals", response_model=Goals)
async def list_goals(session_id: SessionPath, actor: WorkCaller) -> Response:
    """Every goal, in order, with its parent, milestone and dependencies."""
    return json_response(await actor.work.goals.list(actor.app_id, actor.user_id, session_id))


@router.patch("/goals/{goal_id}", response_model=Goal)
async def update_goal(
    session_id: SessionPath,
    goal_id: GoalPath,
    body: GoalUpdate,
    expected: IfMatch,
    actor: WorkCaller,
) -> Response:
    """Change a goal. Done while a goal it depends on is open: 409 goal_blocked."""
    goal = await actor.work.goals.update(
        actor.app_id, actor.user_id, session_id, goal_id, body, expected
    )
    return versioned(goal, goal.version)


@router.delete("/goals/{goal_id}", status_code=204)
async def delete_goal(session_id: SessionPath, goal_id: GoalPath, actor: WorkCaller) -> Response:
    """Remove a goal; its sub-goals move up to its parent."""
    await actor.work.goals.delete(actor.app_id, actor.user_id, session_id, goal_id)
    return Response(status_code=204)


@router.post("/milestones", response_model=Milestone, status_code=201)
async def create_milestone(
    session_id: SessionPath, body: MilestoneCreate, actor: WorkCaller
) -> Response:
    """Add a milestone grouping goals, due at an offset from the start."""
    milestone = await actor.work.milestones.create(actor.app_id, actor.user_id, session_id, body)
    return json_response(milestone, status=201)


@router.get("/milestones", response_model=Milestones)
async def list_milestones(session_id: SessionPath, actor: WorkCaller) -> Response:
    """Milestones with their goals, target time, completion (from the goals) and progress."""
    return json_response(await actor.work.milestones.list(actor.app_id, actor.user_id, session_id))


@router.patch("/milestones/{milestone_id}", response_model=Milestone)
async def update_milestone(
    session_id: SessionPath, milestone_id: MilestonePath, body: MilestoneUpdate, actor: WorkCaller
) -> Response:
    """Rename, retarget or regroup a milestone."""
    milestone = await actor.work.milestones.update(
        actor.app_id, actor.user_id, session_id, milestone_id, body
    )
    return json_response(milestone)


@router.delete("/milestones/{milestone_id}", status_code=204)
async def delete_milestone(
    session_id: SessionPath, milestone_id: MilestonePath, actor: WorkCaller
) -> Response:
    """Remove a milestone (its goals stay)."""
    await actor.work.milestones.delete(actor.app_id, actor.user_id, session_id, milestone_id)
    return Response(status_code=204)


@router.post("/blockers", response_model=Blocker, status_code=201)
async def open_blocker(session_id: SessionPath, body: BlockerCreate, actor: WorkCaller) -> Response:
    """Record something blocking the work."""
    blocker = await actor.work.blockers.open(actor.app_id, actor.user_id, session_id, body)
    return json_response(blocker, status=201)


@router.get("/blockers", response_model=Blockers)
async def list_blockers(session_id: SessionPath, actor: WorkCaller) -> Response:
    """Blockers, open and resolved, with the time each cost."""
    return json_response(await actor.work.blockers.list(actor.app_id, actor.user_id, session_id))


@router.post("/blockers/{blocker_id}/resolve", response_model=Blocker)
async def resolve_blocker(
    session_id: SessionPath, blocker_id: BlockerPath, body: BlockerResolve, actor: WorkCaller
) -> Response:
    """Resolve a blocker; the time lost defaults to how long it was open."""
    blocker = await actor.work.blockers.resolve(
        actor.app_id, actor.user_id, session_id, blocker_id, body
    )
    return json_response(blocker)


@router.get("/progress", response_model=Progress)
async def get_progress(session_id: SessionPath, actor: WorkCaller) -> Response:
    """Percent done weighted by goal estimates, per milestone, and estimated vs actual time."""
    return json_response(await actor.work.progress.get(actor.app_id, actor.user_id, session_id))
