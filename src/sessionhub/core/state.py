"""Generic key/value state with an optional per-key TTL, in three scopes.

``session`` state belongs to one session (and goes when it is deleted), ``user`` state is
shared by all of a user's sessions, ``app`` state by the whole app. An expired key reads
as absent at once; the worker removes it later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping

from sessionhub import crypto
from sessionhub.clock import from_ms
from sessionhub.core.session_rows import check_json_size, existing_session, locked_session
from sessionhub.errors import Conflict, InvalidInput, NotFound
from sessionhub.models import StateEntries, StateEntry, StatePut, StateScope
from sessionhub.storage import memory as mq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

MAX_VALUE_BYTES = 65_536


def entry_model(row: Mapping[Any, Any]) -> StateEntry:
    return StateEntry(
        scope=row["scope"],
        key=row["key"],
        value=crypto.open_json(row["value"], "state.value")["v"],
        expires_at=from_ms(row["expires_at"]) if row["expires_at"] is not None else None,
        updated_at=from_ms(row["updated_at"]),
    )


def _owner(
    conn: Connection,
    app_id: str,
    scope: str,
    session_id: str | None,
    user_id: str | None,
    lock: bool,
) -> tuple[str, int | None]:
    """(owner, session_sid) of a scope; a session's user owns its ``user`` state."""
    if scope == "app":
        return "", None
    if session_id is None:
        if scope == "user" and user_id is not None:
            return user_id, None
        raise InvalidInput(f"{scope} state needs a session id.", details={"field": "session_id"})
    session = (locked_session if lock else existing_session)(conn, app_id, session_id)
    if scope == "session":
        return str(session["sid"]), session["sid"]
    if session["user_id"] is None:
        raise Conflict(
            f"Session {session_id!r} has no user, so it has no user state; identify it first.",
            details={"session_id": session_id},
        )
    return str(session["user_id"]), None


def _missing(scope: str, key: str) -> NotFound:
    return NotFound(f"No {scope} state {key!r}.", details={"scope": scope, "key": key})


def _get(
    conn: Connection,
    app_id: str,
    scope: str,
    key: str,
    session_id: str | None,
    user_id: str | None,
    now: int,
) -> RowMapping:
    owner, _ = _owner(conn, app_id, scope, session_id, user_id, False)
    row = mq.get_state(conn, app_id, scope, owner, key, now)
    if row is None:
        raise _missing(scope, key)
    return row


def _list(
    conn: Connection,
    app_id: str,
    scope: str,
    session_id: str | None,
    user_id: str | None,
    now: int,
) -> list[RowMapping]:
    owner, _ = _owner(conn, app_id, scope, session_id, user_id, False)
    return mq.list_state(conn, app_id, scope, owner, now)


def _put(
    conn: Connection,
    app_id: str,
    scope: str,
    key: str,
    session_id: str | None,
    user_id: str | None,
    value: Any,
    expires_at: int | None,
    now: int,
) -> RowMapping:
    owner, sid = _owner(conn, app_id, scope, session_id, user_id, True)
    row = {
        "app_id": app_id,
        "scope": scope,
        "owner": owner,
        "key": key,
        "value": value,
        "session_sid": sid,
        "expires_at": expires_at,
        "updated_at": now,
    }
    mq.put_state(conn, row)
    found = mq.get_state(conn, app_id, scope, owner, key, now)
    assert found is not None
    return found


def _delete(
    conn: Connection,
    app_id: str,
    scope: str,
    key: str,
    session_id: str | None,
    user_id: str | None,
    now: int,
) -> None:
    owner, _ = _owner(conn, app_id, scope, session_id, user_id, True)
    if not mq.delete_state(conn, app_id, scope, owner, key, now):
        raise _missing(scope, key)


class State:
    """Key/value state: ``session``, ``user`` and ``app`` scopes, each key with an optional TTL.

    Name the owner with ``session_id`` (session scope, or user scope through the session's
    user) or ``user_id`` (user scope); app scope needs neither.
    """

    def __init__(self, engine: Engine):
        self._db = engine.db
        self._clock = engine.clock
        self._encryption = engine.encryption

    async def get(
        self,
        app_id: str,
        scope: StateScope,
        key: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> StateEntry:
        now = self._clock.now_ms()
        return entry_model(await self._db.read(_get, app_id, scope, key, session_id, user_id, now))

    async def list(
        self,
        app_id: str,
        scope: StateScope,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> StateEntries:
        now = self._clock.now_ms()
        rows = await self._db.read(_list, app_id, scope, session_id, user_id, now)
        return StateEntries(items=[entry_model(row) for row in rows])

    async def put(
        self,
        app_id: str,
        scope: StateScope,
        key: str,
        req: StatePut,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> StateEntry:
        """Set a key (replacing its value and TTL)."""
        check_json_size(req.value, "value", MAX_VALUE_BYTES)
        now = self._clock.now_ms()
        expires = now + req.ttl_s * 1000 if req.ttl_s is not None else None
        # Wrapped in an object: SQLite gives a column declared JSON numeric affinity, so a
        # bare number stored as JSON text would come back as a number, not JSON. Sealed
        # (a string) when encryption at rest is on.
        stored: Any = {"v": req.value}
        sealer = self._encryption.sealer
        if sealer is not None:
            stored = sealer.seal_json(stored, "state.value")
        row = await self._db.write(
            _put, app_id, scope, key, session_id, user_id, stored, expires, now
        )
        return entry_model(row)

    async def delete(
        self,
        app_id: str,
        scope: StateScope,
        key: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        now = self._clock.now_ms()
        await self._db.write(_delete, app_id, scope, key, session_id, user_id, now)
