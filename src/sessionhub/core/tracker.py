"""What the browser tracker needs beyond the public API: identify from the page, and beacons.

A browser holds only a publishable key, which anyone can read from the page. So the
browser's identify links no device it names: it links the device of a running session the
caller names, and knowing a session's random id is what shows the caller is that browser.
A beacon (``navigator.sendBeacon`` as a page goes away) can't read its answer, so events
of a session that has meanwhile ended go to their device's running session (or a new one)
instead of being refused, as the tracker would have done on a 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.core.session_rows import not_found
from sessionhub.core.sessions import _identify as identify_device
from sessionhub.core.sessions import effective_end, ended_error, to_model
from sessionhub.enrich.client import ClientInfo
from sessionhub.errors import Conflict, InvalidInput
from sessionhub.models import Identified, Identify
from sessionhub.models.apps import AppSettings
from sessionhub.models.events import IngestResult, RejectedEvent
from sessionhub.storage import sessions as sq
from sessionhub.storage.prepared import Row

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

# Rejections a beacon's event recovers from by being sessionized by its device instead.
MOVABLE = frozenset({"session_ended", "not_found"})


def _identify_session(
    conn: Connection, app_id: str, session_id: str, user_id: str, settings: AppSettings, now: int
) -> tuple[int, Row | None]:
    row = sq.get_for_update(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    if effective_end(row, now) is not None:
        raise ended_error(session_id, row, now)
    device_id = row["device_id"]
    if device_id is None:
        raise InvalidInput(
            f"Session {session_id!r} has no device_id to link to the user.",
            details={"field": "session_id", "session_id": session_id},
        )
    if row["user_id"] is not None and row["user_id"] != user_id:
        # Another person's session: moving it to this user would mix two people's history.
        raise Conflict(
            f"Session {session_id!r} belongs to another user; start a new session for this one.",
            details={"field": "user_id", "session_id": session_id},
        )
    # From here it is the secret key's identify, with its consent rule (no fingerprinting
    # consent: the session gets its user, no device is linked) and everything it updates.
    request = Identify(device_id=device_id, user_id=user_id, session_id=session_id)
    return identify_device(conn, app_id, request, now, settings.consent_mode)


def _merge(first: IngestResult, second: IngestResult, indexes: list[int]) -> IngestResult:
    """One answer for a beacon sent in two goes; ``indexes`` maps the second's events back."""
    rejected = [r for r in first.rejected if r.index not in set(indexes)]
    rejected += [
        RejectedEvent(index=indexes[r.index], code=r.code, message=r.message, details=r.details)
        for r in second.rejected
    ]
    sessions = first.sessions + [s for s in second.sessions if s not in first.sessions]
    return IngestResult(
        accepted=first.accepted + second.accepted,
        duplicates=first.duplicates + second.duplicates,
        rejected=sorted(rejected, key=lambda r: r.index),
        sessions=sessions,
    )


class Tracker:
    """The browser tracker's own calls: identify a session's device, take a beacon."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def identify_session(self, app_id: str, session_id: str, user_id: str) -> Identified:
        """Link the device of a running session to ``user_id``; its sessions join the user's.

        404 for an unknown session, 409 when it has ended or belongs to another user, 422
        when it has no device. Without ``fingerprinting`` consent where the app's consent
        mode needs it, the session gets its user but no device is linked.
        """
        engine = self._engine
        settings = await engine.apps.settings(app_id)
        now = engine.clock.now_ms()
        linked, row = await engine.db.write(
            _identify_session, app_id, session_id, user_id, settings, now
        )
        assert row is not None  # identify with a session id answers that session
        return Identified(
            device_id=row["device_id"],
            user_id=user_id,
            sessions_linked=linked,
            session=to_model(row, now),
        )

    async def beacon(
        self, app_id: str, raw_events: list[Any], *, client: ClientInfo | None = None
    ) -> IngestResult:
        """Ingest a beacon's events; those of an ended or unknown session that carry a
        ``device_id`` go to the device's running session (or a new one) instead."""
        events = self._engine.events
        first = await events.ingest(app_id, raw_events, client=client)
        indexes = [
            r.index
            for r in first.rejected
            if r.code in MOVABLE
            and isinstance(raw_events[r.index], dict)
            and raw_events[r.index].get("device_id")
        ]
        if not indexes:
            return first
        moved = [{k: v for k, v in raw_events[i].items() if k != "session_id"} for i in indexes]
        second = await events.ingest(app_id, moved, client=client)
        return _merge(first, second, indexes)
