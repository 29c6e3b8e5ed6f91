"""The session lifecycle: create, validate, heartbeat, refresh, end, revoke, rotate, identify.

The rules that must hold everywhere live here. A session past its idle timeout or its
absolute lifetime is over at that moment, so every read computes the effective state
from the stored one and the clock, before the worker has written it down. Activity
never extends a session past its absolute lifetime and nothing revives an ended one.
Each change runs as one write in the group-commit writer, so it is atomic.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.clock import iso
from sessionhub.core import consent
from sessionhub.core.attribution import own_hosts, start_attributes
from sessionhub.core.merge_patch import merge_patch
from sessionhub.core.pagination import check_limit, decode_cursor, encode_cursor
from sessionhub.core.personalization.profiles import merge_on_identify as merge_profiles
from sessionhub.core.session_rows import check_json_size, not_found
from sessionhub.enrich.client import ClientInfo
from sessionhub.errors import (
    NotFound,
    SessionEnded,
    SessionLimitReached,
)
from sessionhub.ids import new_id
from sessionhub.models import (
    ActiveSessions,
    AppSettings,
    Identified,
    Identify,
    Page,
    Revoked,
    Session,
    SessionCreate,
    SessionEnd,
    SessionFilter,
    SessionUpdate,
    Validation,
)
from sessionhub.models.privacy import ConsentMode
from sessionhub.storage import sessions as q
from sessionhub.storage.dialect import lock_key
from sessionhub.storage.prepared import Row

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

# Gaps between activities up to this long count as engaged time: the tracker heartbeats
# every 5 minutes while a page is visible, so a longer gap means nobody was looking.
ENGAGEMENT_GAP_MS = 330_000


# -- the rules ----------------------------------------------------------------------------


def effective_end(row: Mapping[Any, Any], now: int) -> tuple[str, int] | None:
    """(reason, ended_at) if the session is over at ``now``, else None."""
    if row["status"] != "active":
        return row["end_reason"], row["ended_at"]
    due: list[tuple[int, str]] = []
    if row["expires_at"] is not None and now >= row["expires_at"]:
        due.append((row["expires_at"], "expired"))
    if row["idle_expires_at"] is not None and now >= row["idle_expires_at"]:
        due.append((row["idle_expires_at"], "timeout"))
    if not due:
        return None
    ended_at, reason = min(due)
    return reason, ended_at


def next_expiry(row: Mapping[Any, Any]) -> int | None:
    """When a running session ends unless there is activity: the nearer of its two limits."""
    limits = [t for t in (row["idle_expires_at"], row["expires_at"]) if t is not None]
    return min(limits) if limits else None


def to_model(row: Mapping[Any, Any], now: int) -> Session:
    """Render a stored session as the caller sees it at ``now``."""
    ended = effective_end(row, now)
    expiry = None if ended else next_expiry(row)
    # One validation of plain data (nested parts as dicts) costs a fifth less than building
    # the nested models one by one: this runs on every validate and heartbeat.
    return Session.model_validate(
        {
            "id": row["id"],
            "kind": row["kind"],
            "status": "ended" if ended else "active",
            "end_reason": ended[0] if ended else None,
            "user_id": row["user_id"],
            "device_id": row["device_id"],
            # Epoch milliseconds: the model reads them as such (see Session).
            "started_at": row["started_at"],
            "last_activity_at": row["last_activity_at"],
            "ended_at": ended[1] if ended else None,
            "expires_at": expiry,
            "idle_expires_at": row["idle_expires_at"],
            "absolute_expires_at": row["expires_at"],
            "duration_s": (row["last_activity_at"] - row["started_at"]) / 1000,
            "metadata": row["meta"],
            "device": {
                "type": row["device_type"],
                "browser": row["browser"],
                "os": row["os"],
                "screen": row["screen"],
            },
            "entry_page": row["entry_page"],
            "referrer": row["referrer"],
            "campaign": {
                "source": row["utm_source"],
                "medium": row["utm_medium"],
                "name": row["utm_campaign"],
                "term": row["utm_term"],
                "content": row["utm_content"],
            },
            "exit_page": row["exit_page"],
            "last_action": row["last_action"],
            "source": row["source"],
            "medium": row["medium"],
            "referrer_domain": row["referrer_domain"],
            "location": {"country": row["country"], "region": row["region"], "city": row["city"]},
            "is_bot": bool(row["is_bot"]),
            "page_views": row["page_views"],
            "events": row["event_count"],
            "actions": row["action_count"],
            "errors": row["error_count"],
            "conversions": row["conversion_count"],
            "workflow_starts": row["workflow_starts"],
            "workflow_completes": row["workflow_completes"],
            "engaged_s": row["engaged_ms"] / 1000,
        }
    )


def new_session_row(
    app_id: str,
    session_id: str,
    kind: str,
    settings: AppSettings,
    now: int,
    attributes: dict[str, Any],
    *,
    user_id: str | None = None,
    device_id: str | None = None,
    meta: dict[str, Any] | None = None,
    screen: str | None = None,
) -> dict[str, Any]:
    """A new running session's row, its limits taken from the app's settings for ``kind``."""
    idle, absolute = settings.limits_ms(kind)
    idle_expires_at = now + idle if idle is not None else None
    return {
        "app_id": app_id,
        "id": session_id,
        "kind": kind,
        "status": "active",
        "end_reason": None,
        "user_id": user_id,
        "device_id": device_id,
        "started_at": now,
        "last_activity_at": now,
        "ended_at": None,
        "idle_timeout_ms": idle,
        "idle_expires_at": idle_expires_at,
        "idle_check_at": idle_expires_at,
        "expires_at": now + absolute if absolute is not None else None,
        "meta": meta or {},
        "screen": screen,
        "last_action": None,
        "deleted_at": None,
        **attributes,
    }


def ended_error(session_id: str, row: Mapping[Any, Any], now: int) -> SessionEnded:
    """The 409 ``session_ended`` for a session that is over at ``now``."""
    reason, ended_at = effective_end(row, now) or ("unknown", None)
    return SessionEnded(
        f"Session {session_id!r} has ended ({reason}); start a new session.",
        details={"session_id": session_id, "reason": reason, "ended_at": iso(ended_at)},
    )


# -- writes (each runs atomically inside the writer's transaction) ------------------------


def _create(
    conn: Connection, row: dict[str, Any], chosen: bool, limit: int | None, behaviour: str, now: int
) -> tuple[Row, bool]:
    app_id = row["app_id"]
    if chosen:
        existing = q.get_for_update(conn, app_id, row["id"])
        if existing is not None:
            return existing, False
    if row["user_id"] is None and row["device_id"] is not None:
        row["user_id"] = q.linked_user(conn, app_id, row["device_id"])
    if row["user_id"] is not None and limit is not None:
        lock_key(conn, f"user-sessions:{app_id}:{row['user_id']}")
        running = q.user_running(conn, app_id, row["user_id"], now)
        if len(running) >= limit:
            if behaviour == "deny":
                raise SessionLimitReached(
                    f"User {row['user_id']!r} already has {len(running)} active sessions (limit {limit}).",
                    details={"user_id": row["user_id"], "limit": limit},
                )
            oldest = [r["sid"] for r in running[: len(running) - limit + 1]]
            q.end_many(conn, oldest, now, "evicted")
    inserted = q.insert_session(conn, row)
    if inserted is None:  # a concurrent get-or-create of the same id won the race
        existing = q.get_for_update(conn, app_id, row["id"])
        assert existing is not None
        return existing, False
    return inserted, True


def touch_session(conn: Connection, app_id: str, session_id: str, now: int) -> Row:
    """Record activity on a running session; return its row, as it is when it is over.

    404 when there is no such session.
    """
    row = q.touch(conn, app_id, session_id, now, ENGAGEMENT_GAP_MS)
    if row is None:
        row = q.get(conn, app_id, session_id)
        if row is None:
            raise not_found(session_id)
        if effective_end(row, now) is None:
            # Under READ COMMITTED (PostgreSQL) each statement sees what had committed when
            # it began: a concurrent create that committed after the update began but before
            # the look-up is seen by a second update.
            row = q.touch(conn, app_id, session_id, now, ENGAGEMENT_GAP_MS) or row
    return row


def _end(
    conn: Connection, app_id: str, session_id: str, now: int, reason: str, extra: dict[str, Any]
) -> Row:
    row = q.get_for_update(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    if effective_end(row, now) is not None:
        raise ended_error(session_id, row, now)
    return q.end(conn, row["sid"], now, reason, extra)


def _revoke(conn: Connection, app_id: str, session_id: str, now: int) -> Row:
    row = q.get_for_update(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    if effective_end(row, now) is not None:
        return row  # already over: revoking changes nothing
    return q.end(conn, row["sid"], now, "revoked")


def _update(conn: Connection, app_id: str, session_id: str, patch: SessionUpdate) -> Row:
    row = q.get_for_update(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    values: dict[str, Any] = {}
    if patch.metadata is not None:
        values["meta"] = merge_patch(row["meta"], patch.metadata)
        check_json_size(values["meta"], "metadata")
    if "user_id" in patch.model_fields_set:
        values["user_id"] = patch.user_id
    return q.set_fields(conn, row["sid"], values) if values else row


def _rotate(conn: Connection, app_id: str, session_id: str, now: int) -> Row:
    row = q.get_for_update(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    if effective_end(row, now) is not None:
        raise ended_error(session_id, row, now)
    return q.set_fields(conn, row["sid"], {"id": new_id("ses")})


def _delete(conn: Connection, app_id: str, session_id: str, now: int) -> None:
    row = q.get_for_update(conn, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    q.mark_deleted(conn, row["sid"], now)


def _identify(
    conn: Connection, app_id: str, req: Identify, now: int, mode: ConsentMode = "opt_out"
) -> tuple[int, Row | None]:
    linked = 0
    # Linking devices to a user is the ``fingerprinting`` purpose: without it the session
    # still gets its user, but no device is tied to them.
    if consent.may_link(conn, app_id, mode, req.device_id, req.user_id):
        q.link_device(conn, app_id, req.device_id, req.user_id, now)
        linked = q.claim_device_sessions(conn, app_id, req.device_id, req.user_id)
        merge_profiles(conn, app_id, req.device_id, req.user_id, now)
    if req.session_id is None:
        return linked, None
    row = q.get_for_update(conn, app_id, req.session_id)
    if row is None:
        raise not_found(req.session_id)
    values: dict[str, Any] = {"user_id": req.user_id}
    if req.rotate:
        if effective_end(row, now) is not None:
            raise ended_error(req.session_id, row, now)
        values["id"] = new_id("ses")
    return linked, q.set_fields(conn, row["sid"], values)


# -- the capability -----------------------------------------------------------------------


class Sessions:
    """Sessions of an app: the lifecycle and the ways to find them."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._db = engine.db
        self._clock = engine.clock

    async def create(
        self, app_id: str, req: SessionCreate, *, client: ClientInfo | None = None
    ) -> tuple[Session, bool]:
        """Start a session; with a caller-chosen id, get it if it exists. Returns (session, created)."""
        settings = await self._engine.apps.settings(app_id)
        check_json_size(req.metadata, "metadata")
        now = self._clock.now_ms()
        attributes = start_attributes(
            req.entry_page,
            req.referrer,
            client or ClientInfo(),
            self._engine.geo,
            own_hosts(settings.allowed_origins),
            user_agent=req.user_agent,
        )
        row = new_session_row(
            app_id,
            req.id or new_id("ses"),
            req.kind,
            settings,
            now,
            attributes,
            user_id=req.user_id,
            device_id=req.device_id,
            meta=req.metadata,
            screen=req.screen,
        )
        stored, created = await self._db.write(
            _create,
            row,
            req.id is not None,
            settings.max_sessions_per_user,
            settings.session_limit_behaviour,
            now,
        )
        if not created and effective_end(stored, now) is not None:
            raise ended_error(stored["id"], stored, now)
        if client is not None and client.gpc:
            await self._engine.consent.gpc(app_id, stored["device_id"], stored["user_id"])
        return to_model(stored, now), created

    async def get(self, app_id: str, session_id: str) -> Session:
        row = await self._db.read(q.get, app_id, session_id)
        if row is None:
            raise not_found(session_id)
        return to_model(row, self._clock.now_ms())

    async def update(self, app_id: str, session_id: str, patch: SessionUpdate) -> Session:
        """Merge-patch the metadata and/or set the user."""
        row = await self._db.write(_update, app_id, session_id, patch)
        return to_model(row, self._clock.now_ms())

    async def heartbeat(self, app_id: str, session_id: str) -> Session:
        """Record activity; 409 session_ended if the session is over."""
        now = self._clock.now_ms()
        row = await self._db.write(touch_session, app_id, session_id, now)
        if effective_end(row, now) is not None:
            raise ended_error(session_id, row, now)
        return to_model(row, now)

    refresh = heartbeat

    async def validate(self, app_id: str, session_id: str) -> Validation:
        """Say whether the session is valid, why not, and until when; a valid one slides its idle expiry."""
        now = self._clock.now_ms()
        row = await self._db.write(touch_session, app_id, session_id, now)
        session = to_model(row, now)
        return Validation(
            valid=session.status == "active",
            reason=session.end_reason,
            expires_at=session.expires_at,
            session=session,
        )

    async def end(self, app_id: str, session_id: str, req: SessionEnd | None = None) -> Session:
        """End a running session with a reason, exit page and last action."""
        req = req or SessionEnd()
        extra: dict[str, Any] = {}
        if req.exit_page is not None:
            extra["exit_page"] = req.exit_page
        if req.last_action is not None:
            extra["last_action"] = req.last_action
        now = self._clock.now_ms()
        if req.reason != "timeout":
            # A logout, a navigation away or an error is the user's last activity, so a
            # reader who leaves after two minutes on one page has a two-minute session.
            extra["last_activity_at"] = now
        row = await self._db.write(_end, app_id, session_id, now, req.reason, extra)
        return to_model(row, now)

    async def revoke(self, app_id: str, session_id: str) -> Session:
        """End the session at once with reason ``revoked`` (an ended one stays as it is)."""
        now = self._clock.now_ms()
        return to_model(await self._db.write(_revoke, app_id, session_id, now), now)

    async def rotate(self, app_id: str, session_id: str) -> Session:
        """Give a running session a new id; the old id stops working at once."""
        now = self._clock.now_ms()
        return to_model(await self._db.write(_rotate, app_id, session_id, now), now)

    async def delete(self, app_id: str, session_id: str) -> None:
        """Delete the session; the worker removes what belonged to it."""
        await self._db.write(_delete, app_id, session_id, self._clock.now_ms())

    async def identify(self, app_id: str, req: Identify) -> Identified:
        """Link a device to a user: the device's sessions join the user's history."""
        now = self._clock.now_ms()
        mode = (await self._engine.apps.settings(app_id)).consent_mode
        linked, row = await self._db.write(_identify, app_id, req, now, mode)
        return Identified(
            device_id=req.device_id,
            user_id=req.user_id,
            sessions_linked=linked,
            session=to_model(row, now) if row is not None else None,
        )

    async def revoke_user(self, app_id: str, user_id: str) -> Revoked:
        """Revoke every running session of a user."""
        now = self._clock.now_ms()
        return Revoked(revoked=await self._db.write(q.end_user, app_id, user_id, now, "revoked"))

    async def list(
        self,
        app_id: str,
        filters: SessionFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Session]:
        """Sessions matching the filters, newest first, a page at a time."""
        check_limit(limit)
        after = decode_cursor(cursor)
        now = self._clock.now_ms()
        wanted = _filter_values(filters)
        rows = await self._db.read(q.search, app_id, now, wanted, limit + 1, after, heavy=True)
        items = [to_model(row, now) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last["started_at"], last["sid"])
        return Page[Session](items=items, next_cursor=next_cursor)

    async def count(self, app_id: str, filters: SessionFilter | None = None) -> int:
        now = self._clock.now_ms()
        return await self._db.read(q.count, app_id, now, _filter_values(filters), heavy=True)

    async def active(
        self, app_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> ActiveSessions:
        """Sessions active now: how many, and a page of them."""
        running = SessionFilter(status="active")
        page = await self.list(app_id, running, limit=limit, cursor=cursor)
        total = await self.count(app_id, running)
        return ActiveSessions(count=total, items=page.items, next_cursor=page.next_cursor)

    async def current(self, app_id: str, user_id: str) -> Session:
        """The user's most recently active running session."""
        now = self._clock.now_ms()
        row = await self._db.read(partial(q.latest_running, user_id=user_id), app_id, now)
        if row is None:
            raise NotFound(f"User {user_id!r} has no active session.", details={"user_id": user_id})
        return to_model(row, now)


def _filter_values(filters: SessionFilter | None) -> dict[str, Any]:
    if filters is None:
        return {}
    values = filters.model_dump(exclude_none=True)
    for name in ("started_from", "started_to"):
        if name in values:
            values[name] = int(values[name].timestamp() * 1000)
    return values
