"""Events: what a client sends in a batch, what it gets back, and what a timeline shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, SkipValidation, StringConstraints, with_config
from typing_extensions import TypedDict

from sessionhub.models.common import BulkInput, ExternalId, Output, SessionId, Url

STANDARD_TYPES = (
    "page_view",
    "action",
    "error",
    "conversion",
    "workflow_start",
    "workflow_complete",
)
MAX_BATCH = 500
MAX_PROPERTIES_BYTES = 8192
MAX_PROPERTIES_DEPTH = 8

EventName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.:\- ]{0,99}$")]
ClientEventId = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}$"
    ),
]


# A typed dict, not a model: a batch of 50 validates in two thirds of the time, with the
# same checks (strict types, unknown fields refused). A missing field is a missing key.
@with_config(ConfigDict(extra="forbid", strict=True))
class EventIn(TypedDict):
    """One event. Give ``session_id``, or ``device_id``/``user_id`` to let the server sessionize."""

    id: NotRequired[
        Annotated[
            ClientEventId | None,
            Field(
                description=(
                    "Your UUID for the event: sending it again (with the same timestamp, or"
                    " again without one) stores it once."
                )
            ),
        ]
    ]
    session_id: NotRequired[SessionId | None]
    device_id: NotRequired[ExternalId | None]
    user_id: NotRequired[ExternalId | None]
    type: Annotated[
        EventName,
        Field(
            description="page_view, action, error, conversion, workflow_start, workflow_complete, or a custom name."
        ),
    ]
    timestamp: NotRequired[
        Annotated[
            Annotated[datetime, Field(strict=False)] | None,
            Field(description="When it happened (ISO 8601); server time when absent."),
        ]
    ]
    url: NotRequired[Url | None]
    path: NotRequired[Annotated[str, StringConstraints(max_length=2048)] | None]
    title: NotRequired[Annotated[str, StringConstraints(max_length=500)] | None]
    referrer: NotRequired[Url | None]
    # Checked where it is encoded (``core.events.prepare``): validating it here copied it.
    properties: NotRequired[
        Annotated[SkipValidation[dict[str, Any]], Field(description="At most 8 KB of JSON.")]
    ]


# The two batches are BulkInput: each event is checked on its own, storable JSON included
# (``core.events.validate_events`` and ``prepare``, which also answer for an item that is
# not an object), so one bad event does not turn the batch away. Checking the items here
# first would copy every event for nothing.
RawEvent = SkipValidation[dict[str, Any]]


class EventBatch(BulkInput):
    """Up to 500 events; each is checked on its own, so good ones are kept when others fail."""

    events: list[RawEvent] = Field(max_length=MAX_BATCH, description="Each shaped like EventIn.")


class SessionEventBatch(BulkInput):
    """Up to 500 events for the session in the path (their ``session_id`` may be left out)."""

    events: list[RawEvent] = Field(max_length=MAX_BATCH, description="Each shaped like EventIn.")


class RejectedEvent(Output):
    index: int
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class IngestResult(Output):
    accepted: int = Field(description="Events stored by this call.")
    duplicates: int = Field(
        description="Events stored before (same id and timestamp): not stored again."
    )
    rejected: list[RejectedEvent]
    sessions: list[str] = Field(description="The sessions the accepted events went to, in order.")


class Event(Output):
    id: str
    session_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    url: str | None
    path: str | None
    title: str | None
    referrer: str | None
    properties: dict[str, Any]
    seconds_since_previous: float | None = Field(
        description="Seconds since the session's previous event (null for its first)."
    )


ExportKind = Literal["sessions", "events"]
ExportFormat = Literal["jsonl", "csv"]


class ImportRejected(Output):
    line: int
    code: str
    message: str


class ImportResult(Output):
    sessions: int = Field(description="Sessions added.")
    events: int = Field(description="Events added.")
    unchanged: int = Field(description="Records already present: importing twice changes nothing.")
    rejected: list[ImportRejected]


__all__ = [
    "MAX_BATCH",
    "MAX_PROPERTIES_BYTES",
    "STANDARD_TYPES",
    "Event",
    "EventBatch",
    "EventIn",
    "ExportFormat",
    "ExportKind",
    "ImportRejected",
    "ImportResult",
    "IngestResult",
    "RejectedEvent",
    "SessionEventBatch",
]
