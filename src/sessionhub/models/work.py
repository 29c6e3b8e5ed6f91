"""Work sessions: plans, goals, milestones, blockers, people, comments, attachments, templates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from sessionhub.models.common import ExternalId, Input, Output, SessionId, Url

WorkStatus = Literal["draft", "active", "paused", "completed", "cancelled", "archived"]
WorkTarget = Literal["active", "paused", "completed", "cancelled"]
Priority = Literal["low", "medium", "high", "urgent"]
WorkRole = Literal["owner", "collaborator", "viewer"]
GoalStatus = Literal["todo", "doing", "done", "skipped"]
GoalCategory = Literal["planning", "execution", "testing", "documentation", "other"]
Difficulty = Literal["easy", "medium", "hard"]
WorkSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "priority", "-priority", "name"
]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
WorkType = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Skill = Annotated[str, StringConstraints(min_length=1, max_length=50)]
Skills = Annotated[list[Skill], Field(max_length=20)]
Estimate = Annotated[int, Field(ge=60, le=30 * 86400, description="Seconds.")]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


# -- templates ---------------------------------------------------------------------------


class GoalSpec(Input):
    """A goal of a template; ``parent``, ``depends_on`` and ``milestone`` are list indexes."""

    title: Title
    description: LongText = ""
    estimate_s: Estimate | None = None
    category: GoalCategory = "execution"
    success_criteria: LongText = ""
    skills: Skills = Field(default_factory=list)
    parent: Annotated[int, Field(ge=0)] | None = None
    depends_on: Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=50)] = Field(
        default_factory=list
    )
    milestone: Annotated[int, Field(ge=0)] | None = None


class MilestoneSpec(Input):
    name: Name
    target_offset_s: Estimate | None = Field(
        default=None, description="When it is due, counted from the session's start."
    )


class TemplateSpec(Input):
    """What a session made from a template starts with."""

    name: Name
    description: LongText = ""
    type: WorkType = "general"
    priority: Priority = "medium"
    estimate_s: Estimate | None = None
    difficulty: Difficulty | None = None
    skills: Skills = Field(default_factory=list)
    goals: Annotated[list[GoalSpec], Field(max_length=100)] = Field(default_factory=list)
    milestones: Annotated[list[MilestoneSpec], Field(max_length=20)] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)


class TemplateCreate(Input):
    """A custom template: from scratch (``spec``) or saved from a session (``from_session``)."""

    scope: Literal["app", "user"] = Field(
        default="user", description="app: every user of the app sees it; user: only its creator."
    )
    spec: TemplateSpec | None = None
    from_session: SessionId | None = None
    name: Name | None = Field(default=None, description="Name for a template saved from a session.")

    @model_validator(mode="after")
    def _one_source(self) -> TemplateCreate:
        if (self.spec is None) == (self.from_session is None):
            raise ValueError("give exactly one of spec and from_session")
        return self


class Template(Output):
    id: str
    version: int
    scope: Literal["builtin", "app", "user"]
    owner_id: str | None
    created_at: datetime | None
    spec: TemplateSpec


# -- sessions ------------------------------------------------------------------------------


class WorkCreate(Input):
    """A new work session, blank or from a template (the body's fields override the template's)."""

    id: SessionId | None = None
    template_id: ItemId | None = None
    template_version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Default: the template's latest version."
    )
    name: Name | None = Field(default=None, description="Required without a template.")
    description: LongText | None = None
    type: WorkType | None = None
    priority: Priority | None = None
    estimate_s: Estimate | None = None
    difficulty: Difficulty | None = None
    skills: Skills | None = None
    custom: dict[str, Any] = Field(default_factory=dict, description="Your own fields.")


class WorkUpdate(Input):
    name: Name | None = None
    description: LongText | None = None
    type: WorkType | None = None
    priority: Priority | None = None
    estimate_s: Estimate | None = None
    difficulty: Difficulty | None = None
    skills: Skills | None = None
    custom: dict[str, Any] | None = Field(
        default=None, description="A JSON merge patch (RFC 7396) of the custom fields."
    )


class Transition(Input):
    to: WorkTarget


class TransitionRecord(Output):
    from_status: WorkStatus
    to: WorkStatus
    at: datetime
    by: str


class WorkSession(Output):
    id: str
    status: WorkStatus
    name: str
    description: str
    type: str
    priority: Priority
    estimate_s: int | None
    difficulty: Difficulty | None
    skills: list[str]
    custom: dict[str, Any]
    template_id: str | None
    template_version: int | None
    owner_id: str
    role: WorkRole | None = Field(description="The acting user's role.")
    version: int = Field(description="Send it back as If-Match to update.")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    archived_at: datetime | None
    active_s: float = Field(description="Actual duration: time spent active.")
    transitions: list[TransitionRecord]
    allowed_transitions: list[str]


# -- people ----------------------------------------------------------------------------------


class MemberAdd(Input):
    user_id: ExternalId
    role: WorkRole = "collaborator"


class MemberRole(Input):
    role: WorkRole


class Member(Output):
    user_id: str
    role: WorkRole
    added_at: datetime


class Members(Output):
    items: list[Member]


# -- goals, milestones, blockers, progress ----------------------------------------------------


class GoalCreate(Input):
    title: Title
    description: LongText = ""
    status: GoalStatus = "todo"
    estimate_s: Estimate | None = None
    category: GoalCategory = "execution"
    success_criteria: LongText = ""
    skills: Skills = Field(default_factory=list)
    parent_id: ItemId | None = None
    milestone_id: ItemId | None = None
    depends_on: Annotated[list[ItemId], Field(max_length=50)] = Field(
        default_factory=list, description="Goals that block this one."
    )


class GoalUpdate(Input):
    """Fields to change; ``parent_id``, ``milestone_id`` and ``estimate_s`` may be set to null."""

    title: Title | None = None
    description: LongText | None = None
    status: GoalStatus | None = None
    estimate_s: Estimate | None = None
    category: GoalCategory | None = None
    success_criteria: LongText | None = None
    skills: Skills | None = None
    parent_id: ItemId | None = None
    milestone_id: ItemId | None = None
    depends_on: Annotated[list[ItemId], Field(max_length=50)] | None = None


class Goal(Output):
    id: str
    parent_id: str | None
    milestone_id: str | None
    title: str
    description: str
    status: GoalStatus
    estimate_s: int | None
    category: GoalCategory
    success_criteria: str
    skills: list[str]
    depends_on: list[str]
    position: int
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None


class Goals(Output):
    items: list[Goal]


class MilestoneCreate(Input):
    name: Name
    target_offset_s: Estimate | None = None
    goal_ids: Annotated[list[ItemId], Field(max_length=100)] = Field(default_factory=list)


class MilestoneUpdate(Input):
    name: Name | None = None
    target_offset_s: Estimate | None = None
    goal_ids: Annotated[list[ItemId], Field(max_length=100)] | None = Field(
        default=None, description="The goals it groups (replaces the current ones)."
    )


class Milestone(Output):
    id: str
    name: str
    position: int
    target_offset_s: int | None
    target_at: datetime | None = Field(description="Start + offset, once the session started.")
    goal_ids: list[str]
    status: Literal["open", "completed"] = Field(
        description="completed when every goal is done or skipped (at least one done)."
    )
    completed_at: datetime | None
    percent_done: float


class Milestones(Output):
    items: list[Milestone]


class BlockerCreate(Input):
    description: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    goal_id: ItemId | None = None


class BlockerResolve(Input):
    resolution: LongText = ""
    time_lost_s: Annotated[int, Field(ge=0, le=365 * 86400)] | None = Field(
        default=None, description="Default: the time from opening to resolving."
    )


class Blocker(Output):
    id: str
    goal_id: str | None
    description: str
    status: Literal["open", "resolved"]
    opened_by: str
    opened_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    time_lost_s: float | None


class Blockers(Output):
    items: list[Blocker]


class MilestoneProgress(Output):
    id: str
    name: str
    status: Literal["open", "completed"]
    percent_done: float


class Progress(Output):
    percent_done: float = Field(description="Weighted by goal estimates (equal without any).")
    weighting: Literal["estimates", "equal"]
    goals_total: int
    goals_done: int
    goals_open: int
    milestones: list[MilestoneProgress]
    estimated_s: int | None
    actual_s: float
    blockers_open: int
    time_lost_s: float


# -- comments, mentions, attachments ---------------------------------------------------------


class CommentCreate(Input):
    body: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    parent_id: ItemId | None = Field(default=None, description="The comment this replies to.")


class CommentUpdate(Input):
    body: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class Comment(Output):
    id: str
    parent_id: str | None
    author_id: str
    body: str
    mentions: list[str]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


class Mention(Output):
    comment_id: str
    session_id: str
    author_id: str
    excerpt: str
    created_at: datetime
    read_at: datetime | None


class MentionsRead(Output):
    marked: int


class LinkCreate(Input):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
    name: Name | None = None


class Attachment(Output):
    id: str
    kind: Literal["file", "link"]
    name: str
    content_type: str | None
    size: int | None
    sha256: str | None
    url: Url | None
    created_by: str
    created_at: datetime


class Attachments(Output):
    items: list[Attachment]


# -- insights ----------------------------------------------------------------------------------


class TemplateSuggestion(Output):
    template_id: str
    name: str
    started: int
    completed: int
    completion_rate: float
    estimate_s: int | None
    suggested_duration_s: int | None = Field(
        description="The template's estimate times the user's median actual/estimate ratio."
    )
    score: float


class Suggestions(Output):
    user_id: str
    median_ratio: float | None = Field(description="The user's median actual/estimate duration.")
    best_hour_bucket: str | None = Field(description="When the user completes most (UTC).")
    items: list[TemplateSuggestion]


class WorkAnalytics(Output):
    users: list[str] | None = Field(description="Whose sessions; null: every user of the app.")
    sessions: int
    completed: int
    cancelled: int
    completion_rate: float | None
    estimate_accuracy: float | None = Field(
        description="Mean of min(actual, estimate) / max(actual, estimate) over completed sessions."
    )
    goals_done: int
    active_hours: float
    goals_per_active_hour: float | None
    time_by_category_s: dict[str, float]
    blockers: int
    time_lost_s: float


class SkillWeek(Output):
    week: str = Field(description="ISO week start, YYYY-MM-DD.")
    goals_done: int
    active_s: float


class SkillStat(Output):
    skill: str
    goals_done: int
    active_s: float
    weeks: list[SkillWeek]
    velocity: float = Field(description="Trend of goals done per week (least-squares slope).")


class Effectiveness(Output):
    bucket: str
    sessions: int
    completion_rate: float
    estimate_accuracy: float | None


class Learning(Output):
    user_id: str
    skills: list[SkillStat]
    by_time_of_day: list[Effectiveness]
    by_session_length: list[Effectiveness]
