"""What the browser tracker sends beyond the public API: identify from a page, a beacon."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sessionhub.models.common import ExternalId, Input, Output
from sessionhub.models.events import MAX_BATCH
from sessionhub.models.privacy import ConsentMode


class SessionIdentify(Input):
    """Link the device of the session in the path to a user."""

    user_id: ExternalId = Field(description="The user who logged in, as your app names them.")


class Beacon(Input):
    """A batch sent by ``navigator.sendBeacon``, which can't set headers: the key rides along."""

    key: str | None = Field(
        default=None,
        max_length=200,
        description="The publishable key (pk_…), when there is no Authorization header.",
    )
    events: list[dict[str, Any]] = Field(
        max_length=MAX_BATCH, description="Each shaped like EventIn (see POST /v1/events)."
    )


class TrackerConfig(Output):
    """The app's settings a tracker needs before it may send anything."""

    consent_mode: ConsentMode = Field(
        description="opt_out: track until the visitor says no; required: nothing before a yes."
    )
    honor_dnt: bool = Field(description="Send nothing from browsers with Do-Not-Track on.")


__all__ = ["Beacon", "SessionIdentify", "TrackerConfig"]
