"""Analytics: the query shape (metrics, dimensions, filters, ranges), reports and their answers.

Names are checked strictly: an unknown metric, dimension or filter field is a 422 that
names it and lists the ones that exist.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from sessionhub.models.common import Input, Output

METRICS = (
    "sessions",
    "visitors",
    "users",
    "page_views",
    "events",
    "views_per_session",
    "actions_per_session",
    "bounce_rate",
    "avg_duration",
    "median_duration",
    "error_rate",
    "conversion_rate",
    "engaged_sessions",
)
TIME_DIMENSIONS = ("time:hour", "time:day", "time:week", "time:month")
# Attributes of a session, fixed when it starts (and exit_page, its last page): each
# session has one value, so a breakdown's rows add up to the total.
SESSION_DIMENSIONS = (
    "kind",
    "entry_page",
    "exit_page",
    "source",
    "medium",
    "campaign",
    "referrer_domain",
    "device_type",
    "browser",
    "os",
    "country",
    "region",
    "city",
    "utm_source",
    "utm_medium",
    "utm_term",
    "utm_content",
    "user_pattern",
)
# Attributes of events: a session appears in the row of every page it viewed.
EVENT_DIMENSIONS = ("page", "event")
DIMENSIONS = (*TIME_DIMENSIONS, *SESSION_DIMENSIONS, *EVENT_DIMENSIONS)
DATE_RANGES = ("today", "24h", "7d", "30d", "month", "12mo", "all")
PATTERNS = ("new_user", "power_user", "quick_checker", "struggling_user", "regular_user")
BEHAVIOURS = ("explorer", "task_focused", "confused")

FilterOp = Literal["is", "is_not", "contains", "matches"]
Direction = Literal["asc", "desc"]
Granularity = Literal["day", "week"]
EventName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.:\- ]{0,99}$")]
FilterText = Annotated[str, StringConstraints(max_length=2048)]


def _known(kind: str, names: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"unknown {kind} {value!r}; known: {', '.join(names)}")
        return value

    return AfterValidator(check)


Metric = Annotated[str, _known("metric", METRICS), Field(json_schema_extra={"enum": list(METRICS)})]
Dimension = Annotated[
    str, _known("dimension", DIMENSIONS), Field(json_schema_extra={"enum": list(DIMENSIONS)})
]
# Filters only, never a grouping: membership of a segment (by its key), as it is now.
FILTER_ONLY_DIMENSIONS = ("segment",)
FILTER_DIMENSIONS = (*DIMENSIONS[len(TIME_DIMENSIONS) :], *FILTER_ONLY_DIMENSIONS)
FilterDimension = Annotated[
    str,
    _known("dimension", FILTER_DIMENSIONS),
    Field(json_schema_extra={"enum": list(FILTER_DIMENSIONS)}),
]


def _check_pattern(op: str, value: Any) -> None:
    if op != "matches":
        return
    for item in value if isinstance(value, list) else [value]:
        if item is None:
            raise ValueError("'matches' needs a regular expression, not null")
        try:
            re.compile(item)
        except re.error as exc:
            raise ValueError(f"{item!r} is not a valid regular expression: {exc}") from exc


class Condition(Input):
    """A test on one dimension: ``{"dimension": "country", "op": "is", "value": ["DE", "AT"]}``.

    ``is``/``is_not`` take one value or a list (any of them; ``null`` matches no value);
    ``contains`` is a case-sensitive substring; ``matches`` a regular expression.
    ``segment`` takes ``is``/``is_not`` and segment keys: sessions of users in (any of) them.
    """

    dimension: FilterDimension
    op: FilterOp = "is"
    value: FilterText | list[FilterText | None] | None = Field(max_length=100)

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.dimension == "segment":
            if self.op not in ("is", "is_not"):
                raise ValueError(f"'segment' takes 'is' or 'is_not', not {self.op!r}")
            if self.value is None or self.value == [] or None in _listed(self.value):
                raise ValueError("'segment' needs a segment key or a list of them, not null")
        if self.op in ("contains", "matches") and (
            self.value is None or (isinstance(self.value, list) and None in self.value)
        ):
            raise ValueError(f"'{self.op}' needs text, not null")
        _check_pattern(self.op, self.value)
        return self


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _field_name(value: str) -> str:
    if value in ("path", "url", "title", "referrer") or re.fullmatch(
        r"properties\.[A-Za-z0-9_\-]{1,100}", value
    ):
        return value
    raise ValueError(
        f"unknown event field {value!r}; use path, url, title, referrer or properties.<key>"
    )


class EventCondition(Input):
    """A test on a field of an event: ``path``, ``url``, ``title``, ``referrer`` or ``properties.<key>``."""

    field: Annotated[str, AfterValidator(_field_name)]
    op: FilterOp = "is"
    value: FilterText | list[FilterText | None] | None = Field(max_length=100)

    @model_validator(mode="after")
    def _value_fits_op(self) -> EventCondition:
        if self.op in ("contains", "matches") and (
            self.value is None or (isinstance(self.value, list) and None in self.value)
        ):
            raise ValueError(f"'{self.op}' needs text, not null")
        _check_pattern(self.op, self.value)
        return self


class EventMatch(Input):
    """An event by name, optionally with conditions on its fields (all must hold)."""

    event: EventName
    where: list[EventCondition] = Field(default_factory=list, max_length=20)


class Did(Input):
    """Sessions that did an event: ``{"did": {"event": "signup"}}``."""

    did: EventMatch


class AllOf(Input):
    """Every filter holds: ``{"and": [...]}``."""

    all_of: list[Filter] = Field(alias="and", min_length=1, max_length=50)


class AnyOf(Input):
    """At least one filter holds: ``{"or": [...]}``."""

    any_of: list[Filter] = Field(alias="or", min_length=1, max_length=50)


class Not(Input):
    """The filter does not hold: ``{"not": {...}}``."""

    negated: Filter = Field(alias="not")


def _filter_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key, tag in (("and", "and"), ("or", "or"), ("not", "not"), ("did", "did")):
            if key in value:
                return tag
        return "condition"
    for cls, tag in ((AllOf, "and"), (AnyOf, "or"), (Not, "not"), (Did, "did")):
        if isinstance(value, cls):
            return tag
    return "condition" if isinstance(value, Condition) else None


Filter = Annotated[
    Annotated[Condition, Tag("condition")]
    | Annotated[AllOf, Tag("and")]
    | Annotated[AnyOf, Tag("or")]
    | Annotated[Not, Tag("not")]
    | Annotated[Did, Tag("did")],
    Discriminator(_filter_tag),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


class Between(Input):
    """An explicit range. Dates (``2026-01-31``) are whole days in the app's timezone, both
    ends included; times (ISO 8601) run from ``from`` (included) to ``to`` (excluded)."""

    start: Annotated[str, StringConstraints(max_length=40)] = Field(alias="from")
    end: Annotated[str, StringConstraints(max_length=40)] = Field(alias="to")


DateRange = Annotated[
    Literal["today", "24h", "7d", "30d", "month", "12mo", "all"] | Between,
    Field(description="today, 24h, 7d, 30d, month, 12mo, all, or {from, to}."),
]


class Compare(Input):
    """Compare with the period just before (``previous``) or with a given range."""

    previous: bool = False
    date_range: Between | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Compare:
        if self.previous == (self.date_range is not None):
            raise ValueError("give either previous: true or a date_range")
        return self


class Order(Input):
    """Sort rows by a metric or a dimension of the query."""

    field: Annotated[str, StringConstraints(max_length=40)]
    direction: Direction = "desc"


class QueryIn(Input):
    """One analytics question: metrics broken down by dimensions, over filtered sessions."""

    metrics: list[Metric] = Field(
        default_factory=lambda: ["sessions"], min_length=1, max_length=len(METRICS)
    )
    dimensions: list[Dimension] = Field(default_factory=list, max_length=3)
    filters: list[Filter] = Field(default_factory=list, max_length=50, description="All must hold.")
    date_range: DateRange = "30d"
    compare: Compare | None = None
    order_by: list[Order] = Field(default_factory=list, max_length=5)
    limit: Annotated[int, Field(ge=1, le=10_000)] = 100
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None
    include_bots: bool = Field(default=False, description="Count crawler sessions too.")
    conversion_events: list[EventName] | None = Field(
        default=None,
        max_length=20,
        description="Events that count as a conversion (default: the app's setting, else 'conversion').",
    )

    @model_validator(mode="after")
    def _consistent(self) -> QueryIn:
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError("a dimension appears twice")
        if sum(d in TIME_DIMENSIONS for d in self.dimensions) > 1:
            raise ValueError("at most one time dimension")
        if sum(d in EVENT_DIMENSIONS for d in self.dimensions) > 1:
            raise ValueError("at most one of page and event")
        known = {*self.metrics, *self.dimensions}
        for order in self.order_by:
            if order.field not in known:
                raise ValueError(
                    f"order_by field {order.field!r} is not one of the query's metrics or dimensions"
                )
        return self


Value = int | float | None


class Row(Output):
    dimensions: dict[str, str | None]
    metrics: dict[str, Value]
    compare: dict[str, Value] | None = None


class Period(Output):
    start: str = Field(description="ISO 8601 UTC, included.")
    end: str = Field(description="ISO 8601 UTC, excluded.")


class QueryResult(Output):
    """Rows of a query, with the totals over every row (not only this page)."""

    date_range: Period
    timezone: str
    metrics: list[str]
    dimensions: list[str]
    totals: dict[str, Value]
    rows: list[Row]
    next_cursor: str | None
    compare: CompareResult | None = None
    rollup_days: int = Field(description="Whole days answered from the daily rollups.")


class CompareResult(Output):
    date_range: Period
    totals: dict[str, Value]
    change: dict[str, float | None] = Field(description="Relative change of each total, in %.")


QueryResult.model_rebuild()

# -- shortcuts -----------------------------------------------------------------------------


class ActiveNow(Output):
    sessions: int = Field(description="Running sessions with activity in the last 5 minutes.")
    visitors: int
    users: int
    pages: list[Row]


class AppStats(Output):
    """Every session of an app (all kinds), as it stands now."""

    total: int
    active: int
    ended: int
    expired: int = Field(description="Ended by idle timeout or absolute lifetime.")
    by_reason: dict[str, int]
    avg_duration: float | None


class DailyStats(Output):
    """The tracking spec's ``daily_session_stats`` row for one day (app timezone)."""

    date: str
    total_sessions: int
    unique_users: int
    avg_duration_seconds: float | None
    bounce_rate: float | None
    error_rate: float | None
    most_common_entry: str | None
    most_common_exit: str | None


class BounceSession(Output):
    id: str
    started_at: str
    entry_page: str | None
    duration_s: float
    page_views: int
    source: str | None
    device_type: str | None
    country: str | None


# -- reports -------------------------------------------------------------------------------


class FunnelStep(Input):
    """A page view of ``page`` (a path; ``op`` says how to compare) or an event, with conditions."""

    page: FilterText | None = None
    event: EventName | None = None
    op: FilterOp = "is"
    where: list[EventCondition] = Field(default_factory=list, max_length=20)
    label: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> FunnelStep:
        if (self.page is None) == (self.event is None):
            raise ValueError("a step is either a page or an event")
        if self.page is not None:
            _check_pattern(self.op, self.page)
        return self


class FunnelIn(Input):
    """Ordered steps, within one session or within ``window_days`` per user."""

    steps: list[FunnelStep] = Field(min_length=2, max_length=10)
    within: Literal["session", "user"] = "session"
    window_days: Annotated[int, Field(ge=1, le=365)] = 7
    date_range: DateRange = "30d"
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    include_bots: bool = False


class FunnelStepResult(Output):
    step: int
    label: str
    count: int
    conversion_from_first: float | None = Field(description="Share of step 1, in %.")
    conversion_from_previous: float | None = Field(description="Share of the step before, in %.")
    drop_off: int = Field(description="Reached the step before but not this one.")
    median_time_to_next_s: float | None


class FunnelResult(Output):
    within: str
    date_range: Period
    steps: list[FunnelStepResult]


class PathsIn(Input):
    """The steps after (``direction: next``) or before (``previous``) a page or event."""

    page: FilterText | None = None
    event: EventName | None = None
    direction: Literal["next", "previous"] = "next"
    depth: Annotated[int, Field(ge=1, le=5)] = 5
    steps: Literal["pages", "events"] = Field(
        default="pages", description="pages: page views by path; events: every event by name."
    )
    top: Annotated[int, Field(ge=1, le=50)] = Field(
        default=10, description="Steps kept per depth; the rest are '(other)'."
    )
    date_range: DateRange = "30d"
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    include_bots: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> PathsIn:
        if (self.page is None) == (self.event is None):
            raise ValueError("give a page or an event to start from")
        return self


class PathLink(Output):
    depth: int = Field(description="1 for the link from the anchor to the first step.")
    source: str
    target: str
    sessions: int


class PathNode(Output):
    depth: int
    name: str
    sessions: int


class PathsResult(Output):
    anchor: str
    direction: str
    sessions: int = Field(description="Sessions with the anchor.")
    nodes: list[PathNode]
    links: list[PathLink]


class JourneyStep(Output):
    at: str
    type: str
    path: str | None
    seconds_since_previous: float | None


class JourneySession(Output):
    id: str
    kind: str
    started_at: str
    duration_s: float
    entry_page: str | None
    steps: list[JourneyStep]


class Journey(Output):
    user_id: str | None
    sessions: list[JourneySession]
    truncated: bool = Field(description="True when more events exist than were returned.")


class RetentionIn(Input):
    """Cohorts by first-seen day or week; who came back in each later period."""

    by: Literal["users", "devices"] = "users"
    period: Granularity = "week"
    periods: Annotated[int, Field(ge=1, le=52)] = 8
    date_range: DateRange = "12mo"
    include_bots: bool = False


class Cohort(Output):
    cohort: str
    size: int
    returning: list[int] = Field(description="Index k: how many came back k periods later.")
    rates: list[float | None] = Field(description="returning / size, in %.")


class RetentionResult(Output):
    by: str
    period: str
    cohorts: list[Cohort]


class WorkflowStats(Output):
    workflow: str
    started: int
    completed: int
    abandoned: int
    abandonment_rate: float | None


class AbandonedWorkflow(Output):
    session_id: str
    workflow: str
    started_at: str
    user_id: str | None


class WorkflowsResult(Output):
    workflows: list[WorkflowStats]
    abandoned: list[AbandonedWorkflow]


class PatternMatch(Output):
    type: str
    confidence: float
    indicators: list[str]


class UserPatterns(Output):
    user_id: str
    pattern: str = Field(description="The primary pattern: one of " + ", ".join(PATTERNS) + ".")
    patterns: list[PatternMatch] = Field(description="Every pattern that fired, best first.")
    engagement_score: float = Field(description="0-100: the mean of the recent sessions' scores.")
    sessions: int = Field(description="Recent sessions looked at.")
    stats: dict[str, float]


class SessionEngagement(Output):
    session_id: str
    engagement_score: float = Field(description="0-100 (formula in docs/analytics.md).")


class PatternCount(Output):
    pattern: str
    users: int


# -- settings ------------------------------------------------------------------------------

Threshold = Annotated[float, Field(ge=0, le=1_000_000, strict=False)]


class PatternThresholds(Input):
    """When each user pattern fires (see docs/analytics.md)."""

    recent_sessions: Annotated[int, Field(ge=1, le=500)] = 20
    new_user_max_sessions: Annotated[int, Field(ge=0, le=100)] = 1
    new_user_days: Annotated[int, Field(ge=0, le=365)] = 7
    power_min_avg_duration_s: Threshold = 1800
    power_min_avg_actions: Threshold = 50
    quick_max_avg_duration_s: Threshold = 300
    struggling_min_errors: Threshold = 5
    struggling_min_error_share: Threshold = 0.5
    explorer_min_pages: Threshold = 8
    task_focused_min_success_share: Threshold = 0.5
    task_focused_max_pages: Threshold = 5
    confused_min_repeat_share: Threshold = 0.3
    confused_min_abandoned: Threshold = 2


class AnalyticsSettings(Input):
    """How an app's analytics count: the bounce rule, conversions, user patterns."""

    bounce_threshold_s: Annotated[int, Field(ge=0, le=3600)] = Field(
        default=10, description="A visit shorter than this (and otherwise idle) is a bounce."
    )
    conversion_events: list[EventName] = Field(
        default_factory=list,
        max_length=20,
        description="Named events that count as a conversion, besides 'conversion'.",
    )
    patterns: PatternThresholds = Field(default_factory=PatternThresholds)

    @field_validator("conversion_events")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


__all__ = [
    "BEHAVIOURS",
    "DATE_RANGES",
    "DIMENSIONS",
    "EVENT_DIMENSIONS",
    "FILTER_DIMENSIONS",
    "FILTER_ONLY_DIMENSIONS",
    "METRICS",
    "PATTERNS",
    "SESSION_DIMENSIONS",
    "TIME_DIMENSIONS",
    "AbandonedWorkflow",
    "ActiveNow",
    "AllOf",
    "AnalyticsSettings",
    "AnyOf",
    "AppStats",
    "Between",
    "BounceSession",
    "Cohort",
    "Compare",
    "CompareResult",
    "Condition",
    "DailyStats",
    "DateRange",
    "Did",
    "EventCondition",
    "EventMatch",
    "Filter",
    "FunnelIn",
    "FunnelResult",
    "FunnelStep",
    "FunnelStepResult",
    "Journey",
    "JourneySession",
    "JourneyStep",
    "Not",
    "Order",
    "PathLink",
    "PathNode",
    "PathsIn",
    "PathsResult",
    "PatternCount",
    "PatternMatch",
    "PatternThresholds",
    "Period",
    "QueryIn",
    "QueryResult",
    "RetentionIn",
    "RetentionResult",
    "Row",
    "SessionEngagement",
    "UserPatterns",
    "WorkflowStats",
    "WorkflowsResult",
]
