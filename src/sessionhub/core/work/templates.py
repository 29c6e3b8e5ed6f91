"""Templates: the three built in, and custom ones per app and per user, versioned.

Editing a custom template stores a new version; a session keeps the id and version it
was made from. A template's goals refer to each other (parent, depends_on) and to its
milestones by list index; ``validate_spec`` refuses a spec whose references are out of
range, whose goals form a cycle, or whose estimates don't fit.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sessionhub.clock import from_ms
from sessionhub.core.work.access import check_actor, plan_for
from sessionhub.core.work.graph import find_cycle
from sessionhub.errors import Forbidden, InvalidInput, NotFound
from sessionhub.ids import new_id
from sessionhub.models.work import GoalSpec, MilestoneSpec, Template, TemplateCreate, TemplateSpec
from sessionhub.storage import work_plan as pq
from sessionhub.storage.schema_work import work_milestones, work_templates

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


def _chain(*goals: tuple[str, int, str, str, list[str], int]) -> list[GoalSpec]:
    """Goals done in order: each depends on the one before it."""
    return [
        GoalSpec(
            title=title,
            estimate_s=minutes * 60,
            category=category,  # type: ignore[arg-type]
            success_criteria=criteria,
            skills=skills,
            depends_on=[index - 1] if index else [],
            milestone=milestone,
        )
        for index, (title, minutes, category, criteria, skills, milestone) in enumerate(goals)
    ]


BUILTIN: dict[str, TemplateSpec] = {
    "tpl_bug_fix": TemplateSpec(
        name="Bug Fix",
        description="Reproduce a bug, find its root cause, fix it, test the fix and document it.",
        type="bug_fix",
        priority="high",
        estimate_s=90 * 60,
        difficulty="medium",
        skills=["debugging"],
        goals=_chain(
            ("Reproduce", 15, "planning", "A reliable way to trigger the bug.", ["debugging"], 0),
            ("Find the root cause", 25, "execution", "The cause is explained.", ["debugging"], 0),
            ("Fix", 25, "execution", "The bug no longer occurs.", ["coding"], 1),
            (
                "Test",
                15,
                "testing",
                "A test fails before the fix and passes after.",
                ["testing"],
                1,
            ),
            ("Document", 10, "documentation", "The fix is described.", ["writing"], 2),
        ),
        milestones=[
            MilestoneSpec(name="Understood", target_offset_s=40 * 60),
            MilestoneSpec(name="Fixed", target_offset_s=80 * 60),
            MilestoneSpec(name="Documented", target_offset_s=90 * 60),
        ],
    ),
    "tpl_feature": TemplateSpec(
        name="Feature Development",
        description="Plan a feature, implement it, test it, document it and have it reviewed.",
        type="feature",
        priority="medium",
        estimate_s=180 * 60,
        difficulty="hard",
        skills=["coding"],
        goals=_chain(
            ("Plan", 30, "planning", "The design and its steps are written down.", ["design"], 0),
            ("Implement", 75, "execution", "The feature works.", ["coding"], 1),
            ("Test", 35, "testing", "Tests cover the feature.", ["testing"], 1),
            ("Document", 20, "documentation", "Users can find out how to use it.", ["writing"], 2),
            ("Review", 20, "testing", "A reviewer approved the change.", ["review"], 2),
        ),
        milestones=[
            MilestoneSpec(name="Planned", target_offset_s=30 * 60),
            MilestoneSpec(name="Built", target_offset_s=140 * 60),
            MilestoneSpec(name="Shipped", target_offset_s=180 * 60),
        ],
    ),
    "tpl_research": TemplateSpec(
        name="Research & Exploration",
        description="Frame a question, gather material, analyse it and summarise the answer.",
        type="research",
        priority="medium",
        estimate_s=120 * 60,
        difficulty="medium",
        skills=["research"],
        goals=_chain(
            ("Frame the question", 15, "planning", "One clear question.", ["research"], 0),
            ("Gather", 45, "execution", "Sources are collected.", ["research"], 1),
            ("Analyse", 40, "execution", "Findings are drawn from them.", ["analysis"], 1),
            ("Summarise", 20, "documentation", "The answer is written up.", ["writing"], 2),
        ),
        milestones=[
            MilestoneSpec(name="Framed", target_offset_s=15 * 60),
            MilestoneSpec(name="Analysed", target_offset_s=100 * 60),
            MilestoneSpec(name="Summarised", target_offset_s=120 * 60),
        ],
    ),
}


def validate_spec(spec: TemplateSpec) -> TemplateSpec:
    """Refuse (422) references out of range and cycles among the goals."""
    goals, milestones = spec.goals, spec.milestones
    for index, goal in enumerate(goals):
        where = ["spec", "goals", index]
        if goal.parent is not None and (goal.parent >= len(goals) or goal.parent == index):
            raise _bad([*where, "parent"], f"parent {goal.parent} is not another goal's index")
        for other in goal.depends_on:
            if other >= len(goals) or other == index:
                raise _bad([*where, "depends_on"], f"{other} is not another goal's index")
        if goal.milestone is not None and goal.milestone >= len(milestones):
            raise _bad([*where, "milestone"], f"there is no milestone {goal.milestone}")
    parents = {i: [g.parent] for i, g in enumerate(goals) if g.parent is not None}
    deps = {i: list(g.depends_on) for i, g in enumerate(goals)}
    for edges, name in ((parents, "parent"), (deps, "depends_on")):
        cycle = find_cycle(edges)
        if cycle is not None:
            raise InvalidInput(
                f"The goals' {name} links form a cycle: {cycle}.",
                code="dependency_cycle",
                details={"field": f"spec.goals.{name}", "cycle": cycle},
            )
    return spec


def _bad(loc: list[Any], message: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid template at {'.'.join(map(str, loc))}: {message}.",
        details={"errors": [{"loc": loc, "message": message, "type": "value_error"}]},
    )


def builtin_model(template_id: str) -> Template:
    return Template(
        id=template_id,
        version=1,
        scope="builtin",
        owner_id=None,
        created_at=None,
        spec=BUILTIN[template_id],
    )


def _model(row: Mapping[str, Any]) -> Template:
    return Template(
        id=row["id"],
        version=row["version"],
        scope=row["scope"],
        owner_id=row["owner_id"],
        created_at=from_ms(row["created_at"]),
        spec=TemplateSpec.model_validate(row["spec"]),
    )


def spec_of_session(conn: Any, app_id: str, session_id: str, actor: str) -> TemplateSpec:
    """A template spec from a session's plan: its goals, their links and its milestones."""
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    sid = plan["session_sid"]
    goals = pq.goals(conn, sid)
    milestones = pq.items(conn, work_milestones, sid, work_milestones.c.position)
    goal_at = {goal["id"]: index for index, goal in enumerate(goals)}
    milestone_at = {m["id"]: index for index, m in enumerate(milestones)}
    deps: dict[str, list[int]] = {}
    for goal_id, other in pq.deps(conn, sid):
        deps.setdefault(goal_id, []).append(goal_at[other])
    return TemplateSpec(
        name=plan["name"],
        description=plan["description"],
        type=plan["type"],
        priority=plan["priority"],
        estimate_s=plan["estimate_s"],
        difficulty=plan["difficulty"],
        skills=plan["skills"],
        custom=plan["custom"],
        milestones=[
            MilestoneSpec(name=m["name"], target_offset_s=m["target_offset_s"]) for m in milestones
        ],
        goals=[
            GoalSpec(
                title=goal["title"],
                description=goal["description"],
                estimate_s=goal["estimate_s"],
                category=goal["category"],
                success_criteria=goal["success_criteria"],
                skills=goal["skills"],
                parent=goal_at.get(goal["parent_id"]) if goal["parent_id"] else None,
                depends_on=sorted(deps.get(goal["id"], [])),
                milestone=milestone_at.get(goal["milestone_id"]) if goal["milestone_id"] else None,
            )
            for goal in goals
        ],
    )


class Templates:
    """Built-in and custom templates of an app."""

    def __init__(self, engine: Engine):
        self._db = engine.db
        self._clock = engine.clock

    async def list(self, app_id: str, actor: str) -> list[Template]:
        """The built-ins, the app's templates and the actor's own, each at its latest version."""
        check_actor(actor)
        rows = await self._db.read(pq.latest_templates, app_id, actor)
        return [builtin_model(t) for t in BUILTIN] + [_model(row) for row in rows]

    async def get(
        self, app_id: str, actor: str, template_id: str, version: int | None = None
    ) -> Template:
        """One template at ``version`` (default: the latest); a user template only for its owner."""
        check_actor(actor)
        if template_id in BUILTIN:
            if version not in (None, 1):
                raise _no_template(template_id, version)
            return builtin_model(template_id)
        rows = await self._db.read(pq.template_versions, app_id, template_id)
        rows = [r for r in rows if r["scope"] == "app" or r["owner_id"] == actor]
        if version is not None:
            rows = [r for r in rows if r["version"] == version]
        if not rows:
            raise _no_template(template_id, version)
        return _model(rows[0])

    async def versions(self, app_id: str, actor: str, template_id: str) -> builtins.list[Template]:
        latest = await self.get(app_id, actor, template_id)
        if latest.scope == "builtin":
            return [latest]
        rows = await self._db.read(pq.template_versions, app_id, template_id)
        return [_model(row) for row in rows]

    async def create(self, app_id: str, actor: str, req: TemplateCreate) -> Template:
        """Store version 1 of a new template, from a spec or from a session's plan."""
        check_actor(actor)
        if req.spec is not None:
            spec = req.spec
        else:
            assert req.from_session is not None
            spec = await self._db.read(spec_of_session, app_id, req.from_session, actor)
        if req.name is not None:
            spec = spec.model_copy(update={"name": req.name})
        return await self._store(app_id, actor, new_id("tpl"), 1, req.scope, validate_spec(spec))

    async def update(self, app_id: str, actor: str, template_id: str, spec: Any) -> Template:
        """Store a new version; sessions made from older ones keep theirs."""
        current = await self.get(app_id, actor, template_id)
        if current.scope == "builtin" or current.owner_id != actor:
            raise Forbidden(
                "Only the user who created a custom template may change it.",
                code="template_forbidden",
                details={"template_id": template_id},
            )
        try:
            checked = TemplateSpec.model_validate(spec)
        except ValidationError as exc:
            raise InvalidInput.from_validation(exc) from exc
        return await self._store(
            app_id, actor, template_id, current.version + 1, current.scope, validate_spec(checked)
        )

    async def _store(
        self,
        app_id: str,
        actor: str,
        template_id: str,
        version: int,
        scope: str,
        spec: TemplateSpec,
    ) -> Template:
        row = {
            "id": template_id,
            "version": version,
            "app_id": app_id,
            "scope": scope,
            "owner_id": actor,
            "name": spec.name,
            "spec": spec.model_dump(mode="json"),
            "created_at": self._clock.now_ms(),
        }
        await self._db.write(pq.add, work_templates, row)
        return _model(row)


def _no_template(template_id: str, version: int | None) -> NotFound:
    suffix = f" version {version}" if version is not None else ""
    return NotFound(
        f"No template {template_id!r}{suffix}.",
        details={"template_id": template_id, "version": version},
    )
