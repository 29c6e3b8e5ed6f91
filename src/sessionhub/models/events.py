"""Events: what a client sends in a batch, what it gets back, and what a timeline shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

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


class EventIn(BulkInput):
    """One event. Give ``session_id``, or ``device_id``/``user_id`` to let the server sessionize."""

    id: ClientEventId | None = Field(
        default=None,
        description=(
            "Your UUID for the event: sending it again (with the same timestamp, or again"
            " without one) stores it once."
        ),
    )
    session_id: SessionId | None = None
    device_id: ExternalId | None = None
    user_id: ExternalId | None = None
    type: EventName = Field(
        description="page_view, action, error, conversion, workflow_start, workflow_complete, or a custom name."
    )
    timestamp: Annotated[datetime, Field(strict=False)] | None = Field(
        default=None, description="When it happened (ISO 8601); server time when absent."
    )
    url: Url | None = None
    path: Annotated[str, StringConstraints(max_length=2048)] | None = None
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    referrer: Url | None = None
    properties: dict[str, Any] = Field(default_factory=dict, description="At most 8 KB of JSON.")


# The two batches are BulkInput: each event is checked on its own, storable JSON included
# (``core.events.validate_events``), so one bad event does not turn the batch away.
class EventBatch(BulkInput):
    """Up to 500 events; each is checked on its own, so good ones are kept when others fail."""

    events: list[dict[str, Any]] = Field(
        max_length=MAX_BATCH, description="Each shaped like EventIn."
    )


class SessionEventBatch(BulkInput):
    """Up to 500 events for the session in the path (their ``session_id`` may be left out)."""

    events: list[dict[str, Any]] = Field(
        max_length=MAX_BATCH, description="Each shaped like EventIn."
    )


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
