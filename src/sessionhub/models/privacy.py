"""Consent, data subjects, the privacy report and retention settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sessionhub.models.common import Input, Output

Purpose = Literal["analytics", "personalization", "marketing", "fingerprinting"]
PURPOSES: tuple[Purpose, ...] = ("analytics", "personalization", "marketing", "fingerprinting")
ConsentMode = Literal["opt_out", "required"]
ConsentSource = Literal["api", "tracker", "gpc", "cli"]
SubjectKind = Literal["device", "user"]
RequestKind = Literal["export", "erase"]
Days = Annotated[int, Field(ge=1, le=36_500)]
SubjectId = Annotated[str, Field(min_length=1, max_length=200)]


class RetentionSettings(Input):
    """How long raw data is kept, in days; ``null`` keeps it forever. Rollups are kept."""

    events_days: Days | None = Field(default=30, description="Raw events, by their time.")
    messages_days: Days | None = Field(
        default=90, description="Conversation messages, by when they were written."
    )
    ended_sessions_days: Days | None = Field(
        default=180, description="Ended sessions (and all they hold), by their last activity."
    )


class ConsentIn(Input):
    """A consent change for a device, a user, or both (publishable keys: a device only)."""

    device_id: SubjectId | None = None
    user_id: SubjectId | None = None
    purposes: dict[Purpose, bool] = Field(
        default_factory=dict, description="Purposes granted (true) or refused/withdrawn (false)."
    )
    do_not_sell: bool | None = Field(
        default=None, description="CCPA opt-out of sale and sharing (true: opted out)."
    )

    @model_validator(mode="after")
    def _someone(self) -> ConsentIn:
        if self.device_id is None and self.user_id is None:
            raise ValueError("give a device_id, a user_id or both")
        return self


class SubjectConsent(Output):
    """What one subject said, purpose by purpose (absent: never said)."""

    kind: SubjectKind
    id: str
    purposes: dict[str, bool]
    do_not_sell: bool | None
    updated_at: datetime | None


class ConsentState(Output):
    """The subjects' own records and what applies to them under the app's consent mode."""

    mode: ConsentMode
    device: SubjectConsent | None
    user: SubjectConsent | None
    effective: dict[str, bool] = Field(description="Whether each purpose is allowed now.")
    do_not_sell: bool = Field(description="Whether sale/sharing is opted out (any record or GPC).")


class ConsentLogEntry(Output):
    subject_kind: SubjectKind
    subject_id: str
    purpose: str
    granted: bool
    source: str
    actor: str
    at: datetime


class SubjectIn(Input):
    """A data subject: a user id or a device id (one of them)."""

    user_id: SubjectId | None = None
    device_id: SubjectId | None = None

    @model_validator(mode="after")
    def _one(self) -> SubjectIn:
        if (self.user_id is None) == (self.device_id is None):
            raise ValueError("give exactly one of user_id and device_id")
        return self


class SubjectSummary(Output):
    """Everything stored about a subject, counted by kind of record."""

    user_id: str | None
    device_id: str | None
    devices: list[str] = Field(description="Devices linked to the user (or the device itself).")
    users: list[str] = Field(description="Users the device's sessions belong to.")
    first_seen: datetime | None
    last_seen: datetime | None
    records: dict[str, int] = Field(description="Stored records per export section.")


class Erasure(Output):
    """What an erasure removed."""

    user_id: str | None
    device_id: str | None
    sessions_revoked: int = Field(description="Sessions that were running and ended at once.")
    records: dict[str, int] = Field(description="Records removed per export section.")
    days_recomputed: int = Field(description="Rolled-up days recomputed without the subject.")
    duration_s: float


class PurposeRate(Output):
    granted: int
    refused: int
    rate: float | None = Field(description="granted / (granted + refused); null without answers.")


class RequestStats(Output):
    count: int
    mean_ms: float | None
    max_ms: int | None
    last_at: datetime | None


class RetentionStatus(Output):
    days: int | None
    oldest: datetime | None = Field(description="The oldest record still stored.")
    overdue: int = Field(description="Records past their retention, waiting for the worker.")


class PrivacyReport(Output):
    """Subjects, consent rates, requests served and retention, for one app."""

    generated_at: datetime
    consent_mode: ConsentMode
    honor_dnt: bool
    subjects: dict[str, int] = Field(description="Distinct users and devices with stored data.")
    consent: dict[str, PurposeRate]
    do_not_sell: int = Field(description="Subjects opted out of sale/sharing.")
    requests: dict[str, RequestStats]
    retention: dict[str, RetentionStatus]
