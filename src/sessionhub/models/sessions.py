"""Sessions: what a caller sends to start, change and end one, and what it gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from sessionhub.models.common import (
    ExternalId,
    Input,
    Output,
    SessionId,
    SessionKind,
    ShortText,
    Url,
)

EndReason = Literal["logout", "timeout", "error", "navigation"]
SessionStatus = Literal["active", "ended"]


class SessionCreate(Input):
    id: SessionId | None = Field(
        default=None, description="Your own id (secret keys only); create then means get-or-create."
    )
    kind: SessionKind = "visit"
    user_id: ExternalId | None = None
    device_id: ExternalId | None = Field(
        default=None, description="An anonymous device id or fingerprint hash."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    entry_page: Url | None = None
    referrer: Url | None = None
    screen: Annotated[str, StringConstraints(pattern=r"^\d{1,5}x\d{1,5}$")] | None = None
    user_agent: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None,
        description="The end user's User-Agent, when a server creates the session for them.",
    )


class SessionUpdate(Input):
    metadata: dict[str, Any] | None = Field(
        default=None, description="A JSON merge patch (RFC 7396) applied to the metadata."
    )
    user_id: ExternalId | None = None


class SessionEnd(Input):
    reason: EndReason = "logout"
    exit_page: Url | None = None
    last_action: ShortText | None = None


class Device(Output):
    type: str | None
    browser: str | None
    os: str | None
    screen: str | None


class Campaign(Output):
    source: str | None
    medium: str | None
    name: str | None
    term: str | None
    content: str | None


class Location(Output):
    country: str | None = Field(description="ISO 3166-1 alpha-2 code.")
    region: str | None
    city: str | None


class Session(Output):
    # Times given as integers are epoch milliseconds (how storage keeps them): to_model hands
    # them over as they are, and pydantic-core makes the datetimes faster than Python does.
    model_config = ConfigDict(extra="forbid", val_temporal_unit="milliseconds")

    id: str
    kind: SessionKind
    status: SessionStatus
    end_reason: str | None
    user_id: str | None
    device_id: str | None
    started_at: datetime
    last_activity_at: datetime
    ended_at: datetime | None
    expires_at: datetime | None = Field(
        description="When the session ends unless there is activity."
    )
    idle_expires_at: datetime | None
    absolute_expires_at: datetime | None
    duration_s: float
    metadata: dict[str, Any]
    device: Device
    entry_page: str | None
    referrer: str | None
    campaign: Campaign
    exit_page: str | None
    last_action: str | None
    source: str | None = Field(
        description="Where the visit came from: google, newsletter, direct …"
    )
    medium: str | None = Field(
        description="organic, cpc, social, email, ai, referral, internal, none …"
    )
    referrer_domain: str | None
    location: Location
    is_bot: bool = Field(description="Bots are kept but left out of analytics by default.")
    page_views: int
    events: int
    actions: int
    errors: int
    conversions: int
    workflow_starts: int
    workflow_completes: int
    engaged_s: float = Field(description="Time with activity gaps of at most 5.5 minutes.")


class Validation(Output):
    valid: bool
    reason: str | None = Field(
        description="Why not valid: the end reason (timeout, expired, revoked …)."
    )
    expires_at: datetime | None
    session: Session


class Identify(Input):
    device_id: ExternalId
    user_id: ExternalId
    session_id: SessionId | None = Field(
        default=None, description="The session the login happened in."
    )
    rotate: bool = Field(
        default=False, description="Give that session a new id (session-fixation defence)."
    )


class Identified(Output):
    device_id: str
    user_id: str
    sessions_linked: int
    session: Session | None


class Revoked(Output):
    revoked: int


class ActiveSessions(Output):
    count: int
    items: list[Session]
    next_cursor: str | None


class SessionFilter(Input):
    """Filters for listing and searching sessions."""

    status: SessionStatus | None = None
    kind: SessionKind | None = None
    user_id: str | None = None
    device_id: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    entry_page: str | None = None
    device_type: str | None = None
