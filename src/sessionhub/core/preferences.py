"""A session's preferences: one JSON object, read whole, merge-patched, replaced, or trimmed.

Every change runs under the session's row lock inside one write, so two writers patching
at once both land: the second patch applies to the result of the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.core.merge_patch import merge_patch
from sessionhub.core.session_rows import check_json_size, existing_session, locked_session
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models import Preferences as PreferencesModel
from sessionhub.storage import memory as mq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

MAX_PREFERENCES_BYTES = 65_536


def _change(
    conn: Connection, app_id: str, session_id: str, patch: dict[str, Any], replace: bool, now: int
) -> dict[str, Any]:
    sid = locked_session(conn, app_id, session_id)["sid"]
    current = mq.ensure_memory(conn, sid, app_id, now)["preferences"]
    updated: dict[str, Any] = dict(patch) if replace else merge_patch(current, patch)
    if replace:
        updated = {key: value for key, value in updated.items() if value is not None}
    check_json_size(updated, "preferences", MAX_PREFERENCES_BYTES)
    mq.set_memory(conn, sid, {"preferences": updated, "updated_at": now})
    return updated


def _delete_key(
    conn: Connection, app_id: str, session_id: str, key: str, now: int
) -> dict[str, Any]:
    sid = locked_session(conn, app_id, session_id)["sid"]
    current: dict[str, Any] = mq.ensure_memory(conn, sid, app_id, now)["preferences"]
    if key not in current:
        raise NotFound(
            f"Session {session_id!r} has no preference {key!r}.",
            details={"session_id": session_id, "key": key},
        )
    updated = {name: value for name, value in current.items() if name != key}
    mq.set_memory(conn, sid, {"preferences": updated, "updated_at": now})
    return updated


def read_preferences(conn: Connection, sid: int) -> dict[str, Any]:
    memory = mq.get_memory(conn, sid)
    return dict(memory["preferences"]) if memory is not None else {}


def _get(conn: Connection, app_id: str, session_id: str) -> dict[str, Any]:
    return read_preferences(conn, existing_session(conn, app_id, session_id)["sid"])


class Preferences:
    """What the user of a session prefers: budget, brands, device, shipping, anything."""

    def __init__(self, engine: Engine):
        self._db = engine.db
        self._clock = engine.clock

    async def get(self, app_id: str, session_id: str) -> PreferencesModel:
        return PreferencesModel(preferences=await self._db.read(_get, app_id, session_id))

    async def patch(self, app_id: str, session_id: str, patch: dict[str, Any]) -> PreferencesModel:
        """Apply a JSON merge patch (RFC 7396): objects merge, null removes a key."""
        _check_object(patch)
        now = self._clock.now_ms()
        return PreferencesModel(
            preferences=await self._db.write(_change, app_id, session_id, patch, False, now)
        )

    async def replace(
        self, app_id: str, session_id: str, value: dict[str, Any]
    ) -> PreferencesModel:
        """Replace the preferences with ``value`` as a whole."""
        _check_object(value)
        now = self._clock.now_ms()
        return PreferencesModel(
            preferences=await self._db.write(_change, app_id, session_id, value, True, now)
        )

    async def delete_key(self, app_id: str, session_id: str, key: str) -> PreferencesModel:
        """Remove one preference (404 when it is not set)."""
        now = self._clock.now_ms()
        return PreferencesModel(
            preferences=await self._db.write(_delete_key, app_id, session_id, key, now)
        )


def _check_object(value: Any) -> None:
    if not isinstance(value, dict):
        raise InvalidInput("Preferences are a JSON object.", details={"field": "body"})
