"""Personalization: settings, profiles, segments, recommendations, experiments, federation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from sessionhub.models.common import ExternalId, Input, Output, ShortText

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,99}$")]
PropertyName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,100}$")]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Lifecycle = Literal["new", "returning", "resurrecting", "dormant"]
TraitOp = Literal["count", "sum", "first", "last", "most_frequent"]


class ComputedTrait(Input):
    """A trait computed from the subject's events over a rolling window."""

    name: PropertyName
    op: TraitOp
    event: EventType | None = Field(default=None, description="Only events of this type.")
    property: PropertyName | None = Field(
        default=None, description="The event property (needed except for count)."
    )
    window_days: Annotated[int, Field(ge=1, le=3650)] = 30

    @model_validator(mode="after")
    def _needs_property(self) -> ComputedTrait:
        if self.op != "count" and self.property is None:
            raise ValueError(f"'{self.op}' needs a property")
        return self


class PersonalizationSettings(Input):
    """How an app's profiles, vectors and recommendations are computed."""

    half_life_days: Annotated[float, Field(gt=0, le=3650)] = Field(
        default=14.0, description="An event's weight in the affinity vector halves this often."
    )
    dimensions: list[PropertyName] = Field(
        default_factory=lambda: ["category", "tags", "section"],
        max_length=20,
        description="Event properties the vector has affinities for; 'section' is the path's first segment.",
    )
    weights: dict[EventType, Annotated[float, Field(ge=0, le=1000)]] = Field(
        default_factory=lambda: {"page_view": 1.0, "action": 2.0, "conversion": 5.0},
        max_length=100,
        description="Weight of an event by type (others weigh 1).",
    )
    item_property: PropertyName = Field(
        default="product_id", description="The event property that names an item."
    )
    category_property: PropertyName = Field(
        default="category", description="The event property that names an item's category."
    )
    computed_traits: list[ComputedTrait] = Field(default_factory=list, max_length=50)


class TraitsPatch(Input):
    traits: dict[PropertyName, Any] = Field(
        max_length=200, description="Traits to set; null removes one (JSON merge patch)."
    )


class Contribution(Output):
    id: str
    type: str
    at: datetime
    weight: float
    contribution: float


class Affinity(Output):
    dimension: str = Field(description="source:value, e.g. category:shoes or section:blog.")
    score: float = Field(description="Share of the whole vector (all scores sum to 1).")
    raw: float = Field(description="The decayed weight behind it.")
    events: list[Contribution] = Field(description="The events that contributed most.")


class Vector(Output):
    subject: str
    half_life_days: float
    affinities: list[Affinity]


class Quintiles(Output):
    recency: int
    frequency: int
    engagement: int


class Profile(Output):
    kind: Literal["user", "device"]
    id: str
    first_seen: datetime
    last_seen: datetime
    events: int
    sessions: int
    active_days: int
    devices: list[str]
    traits: dict[str, Any]
    computed_traits: dict[str, Any]
    event_counts: dict[str, int]
    engagement_score: float
    quintiles: Quintiles | None = Field(description="RFM-style, among the app's user profiles.")
    lifecycle: Lifecycle
    pattern: str | None = Field(description="The user pattern from analytics, when computed.")
    affinities: list[Affinity]


class Rebuild(Input):
    user_id: ExternalId | None = Field(default=None, description="Only this user; else all.")


class Rebuilt(Output):
    profiles: int
    events: int


# -- segments ---------------------------------------------------------------------------------


class SegmentIn(Input):
    key: Key
    name: ShortText = ""
    rules: dict[str, Any] | None = Field(
        default=None, description="A rule tree (see docs/personalization.md); omit for static."
    )
    users: list[ExternalId] | None = Field(
        default=None, max_length=10_000, description="The members of a static segment."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SegmentIn:
        if (self.rules is None) == (self.users is None):
            raise ValueError("give either rules or users")
        return self


class Segment(Output):
    key: str
    name: str
    kind: Literal["rules", "static"]
    rules: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class Membership(Output):
    segment: str
    user_id: str
    member: bool


class SegmentCount(Output):
    segment: str
    members: int


class SegmentDay(Output):
    day: str
    members: int


class SegmentHistory(Output):
    segment: str
    days: list[SegmentDay]


# -- recommendations -------------------------------------------------------------------------

Strategy = Literal["popular", "similar", "personalized", "session"]


class Recommendation(Output):
    item: str
    score: float
    category: str | None
    reasons: list[str]


class Recommendations(Output):
    strategy: Strategy
    items: list[Recommendation]


class Evaluation(Output):
    k: int
    users: int
    hit_rate: dict[str, float]
    ndcg: dict[str, float]


# -- experiments -----------------------------------------------------------------------------


class VariantIn(Input):
    key: Key
    weight: Annotated[float, Field(gt=0, le=1000)] = 1.0
    features: dict[PropertyName, Any] = Field(default_factory=dict, max_length=50)


class Goal(Input):
    event: EventType
    kind: Literal["conversion", "count", "property"] = "conversion"
    property: PropertyName | None = None

    @model_validator(mode="after")
    def _property(self) -> Goal:
        if (self.kind == "property") != (self.property is not None):
            raise ValueError("a 'property' goal needs property (and only it)")
        return self


class NamespaceIn(Input):
    name: Key
    start: Annotated[float, Field(ge=0, le=1)] = 0.0
    end: Annotated[float, Field(ge=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _range(self) -> NamespaceIn:
        if self.end <= self.start:
            raise ValueError("end must be above start")
        return self


class Targeting(Input):
    segment: Key | None = Field(default=None, description="Only members of this segment.")
    conditions: dict[str, Any] | None = Field(
        default=None, description="A rule tree over the decide call's attributes."
    )


class ExperimentIn(Input):
    key: Key
    name: ShortText = ""
    unit: Literal["user", "device", "session"] = "user"
    variants: list[VariantIn] = Field(min_length=2, max_length=20)
    coverage: Annotated[float, Field(ge=0, le=1)] = 1.0
    targeting: Targeting = Field(default_factory=Targeting)
    namespace: NamespaceIn | None = None
    goal: Goal
    min_sample: Annotated[int, Field(ge=1, le=10_000_000)] = 100
    status: Literal["draft", "running"] = "draft"

    @model_validator(mode="after")
    def _distinct(self) -> ExperimentIn:
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            raise ValueError("variant keys must differ")
        return self


class ExperimentPatch(Input):
    name: ShortText | None = None
    status: Literal["draft", "running", "stopped"] | None = None
    coverage: Annotated[float, Field(ge=0, le=1)] | None = None
    weights: dict[Key, Annotated[float, Field(gt=0, le=1000)]] | None = None


class Variant(Output):
    key: str
    weight: float
    features: dict[str, Any]


class Namespace(Output):
    name: str
    start: float
    end: float


class Experiment(Output):
    key: str
    name: str
    status: str
    unit: str
    variants: list[Variant]
    coverage: float
    targeting: dict[str, Any]
    namespace: Namespace | None
    goal: dict[str, Any]
    min_sample: int
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None


class Decision(Output):
    variants: dict[str, str] = Field(description="experiment key -> variant key")
    features: dict[str, Any] = Field(description="feature values of the assigned variants")


class VariantResult(Output):
    variant: str
    units: int
    conversions: int | None
    value: float = Field(description="Conversion rate, or mean per unit.")
    ci_low: float
    ci_high: float
    lift: float | None = Field(description="Relative to control.")
    p_value: float | None = Field(description="Two-proportion z test, or Welch t test.")
    chance_to_beat_control: float | None
    expected_loss: float | None


class Results(Output):
    experiment: str
    metric: str
    control: str
    variants: list[VariantResult]
    srm_p_value: float | None
    srm_warning: bool
    enough_data: bool = Field(description="Every variant reached min_sample units.")


# -- federation ------------------------------------------------------------------------------

Scope = Literal["sessions", "events", "profile", "write_events"]


class GrantIn(Input):
    scopes: list[Scope] = Field(min_length=1, max_length=4)


class Grant(Output):
    owner_app_id: str
    grantee_app_id: str
    scopes: list[str]
    created_at: datetime
    updated_at: datetime


class Grants(Output):
    given: list[Grant]
    received: list[Grant]


class FederatedEventsIn(Input):
    app_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="The app that owns the session."
    )
    session_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    events: list[dict[str, Any]] = Field(min_length=1, max_length=100)


class FederatedSession(Output):
    app_id: str
    session: dict[str, Any]
    events: list[dict[str, Any]] | None
    profile: Profile | None
