"""Find and lock the session a memory or state operation belongs to, and the checks they share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection

from sessionhub.errors import InvalidInput, NotFound, PayloadTooLarge
from sessionhub.storage import sessions as sq
from sessionhub.storage.prepared import Row

MAX_METADATA_BYTES = 16_384


def not_found(session_id: str) -> NotFound:
    """The 404 for a session id the app does not have."""
    return NotFound(f"No session {session_id!r}.", details={"session_id": session_id})


def locked_session(conn: Connection, app_id: str, session_id: str) -> Row:
    """The session's row, locked until the write commits (404 when there is none).

    Every write to a session's memory takes this lock first, so writers of one session
    run one after another even with several PostgreSQL writer tasks.
    """
    row = sq.get_for_update(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    return row


def existing_session(conn: Connection, app_id: str, session_id: str) -> Row:
    row = sq.get(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    return row


def history_alive(memory: Mapping[Any, Any] | None, now: int) -> bool:
    """Whether the session has a history that has not expired at ``now``."""
    if memory is None:
        return False
    expires = memory["history_expires_at"]
    return expires is None or expires > now


def check_json_size(value: Any, field: str, limit: int = MAX_METADATA_BYTES) -> None:
    """Refuse a JSON value that can't be stored (422) or is over ``limit`` bytes (413)."""
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError as exc:  # not JSON: a set, a huge integer, deep nesting
        raise InvalidInput(f"{field} cannot be stored: {exc}.", details={"field": field}) from exc
    if size > limit:
        raise PayloadTooLarge(
            f"{field} is {size} bytes; the limit is {limit}.",
            details={"field": field, "bytes": size, "limit": limit},
        )
