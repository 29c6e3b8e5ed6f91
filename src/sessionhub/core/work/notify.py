"""Live events of work sessions: what changed, sent to the session's topic and its members'.

Events go out after their write committed, so a listener never sees a change that was
rolled back. Topics: ``work:<app>:<session id>`` (everyone watching one session) and
``work-user:<app>:<user id>`` (every open tab of one user, across their sessions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionhub.clock import iso
from sessionhub.storage import work as wq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


def session_topic(app_id: str, session_id: str) -> str:
    return f"work:{app_id}:{session_id}"


def user_topic(app_id: str, user_id: str) -> str:
    return f"work-user:{app_id}:{user_id}"


class Part:
    """What every part of the work capability shares: the database, the clock, the bus."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._db = engine.db
        self._clock = engine.clock
        self._live = engine.live

    def watched(self, app_id: str, session_id: str) -> bool:
        """Whether anyone may be listening for this session's events."""
        return self._live.listening(session_topic(app_id, session_id)) or (
            self._live.listening_under(user_topic(app_id, ""))
        )

    async def notify(
        self, app_id: str, session_id: str, sid: int, kind: str, data: dict[str, Any]
    ) -> None:
        """Publish one event to the session's watchers and to each of its members."""
        event = {
            "type": kind,
            "session_id": session_id,
            "at": iso(self._clock.now_ms()),
            "data": data,
        }
        topic = session_topic(app_id, session_id)
        if self._live.listening(topic):
            await self._live.publish(topic, event)
        if not self._live.listening_under(user_topic(app_id, "")):
            return
        for member in await self._db.read(wq.members, sid):
            user = user_topic(app_id, member["user_id"])
            if self._live.listening(user):
                await self._live.publish(user, event)
