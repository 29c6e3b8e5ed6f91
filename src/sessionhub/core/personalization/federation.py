"""Federation: an app grants another app of the operator access to its users' data.

A grant from app A (the owner) to app B (the grantee) names scopes: ``sessions`` (read a
session), ``events`` (its events with it), ``profile`` (the user's profile) and
``write_events`` (record events into A's sessions, tagged ``source_app``). B sees what the
grant allows and nothing more; without a grant, A's ids do not exist for B (404). Every
federated access, and every grant change, is an entry in A's audit log.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.audit import record_audit, subject_ref
from sessionhub.errors import Forbidden, InvalidInput, NotFound
from sessionhub.models.events import IngestResult
from sessionhub.models.personalization import (
    FederatedEventsIn,
    FederatedSession,
    Grant,
    GrantIn,
    Grants,
    Profile,
)
from sessionhub.storage import personalization_federation as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

MAX_EVENTS = 500  # the events a federated session read carries, at most


def _audit(
    conn: Connection,
    now: int,
    owner: str,
    actor: str,
    action: str,
    target: str | None,
    details: Mapping[Any, Any],
) -> None:
    record_audit(
        conn, now=now, app_id=owner, actor=actor, action=action, target=target, details=details
    )


def _put(
    conn: Connection, owner: str, grantee: str, scopes: builtins.list[str], actor: str, now: int
) -> None:
    q.put(conn, owner, grantee, scopes, now)
    _audit(conn, now, owner, actor, "federation.grant", grantee, {"scopes": scopes})


def _remove(conn: Connection, owner: str, grantee: str, actor: str, now: int) -> None:
    if not q.remove(conn, owner, grantee):
        raise NotFound(f"No grant to app {grantee!r}.", details={"app_id": grantee})
    _audit(conn, now, owner, actor, "federation.revoke", grantee, {})


def to_grant(row: Mapping[Any, Any]) -> Grant:
    return Grant(
        owner_app_id=row["owner_app_id"],
        grantee_app_id=row["grantee_app_id"],
        scopes=list(row["scopes"]),
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
    )


class Federation:
    """Grants between apps, and the reads and writes they allow."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def grant(self, owner: str, grantee: str, spec: GrantIn, actor: str) -> Grant:
        """Let ``grantee`` reach ``owner``'s data within ``spec.scopes`` (replacing a grant)."""
        if grantee == owner:
            raise InvalidInput("An app cannot grant itself.", details={"field": "app_id"})
        await self._engine.apps.get(grantee)
        scopes = sorted(set(spec.scopes))
        await self._engine.db.write(
            _put, owner, grantee, scopes, actor, self._engine.clock.now_ms()
        )
        rows = await self._engine.db.read(q.given, owner)
        return to_grant(next(r for r in rows if r["grantee_app_id"] == grantee))

    async def revoke(self, owner: str, grantee: str, actor: str) -> None:
        await self._engine.db.write(_remove, owner, grantee, actor, self._engine.clock.now_ms())

    async def list(self, app_id: str) -> Grants:
        db = self._engine.db
        return Grants(
            given=[to_grant(r) for r in await db.read(q.given, app_id)],
            received=[to_grant(r) for r in await db.read(q.received, app_id)],
        )

    async def _owners(
        self, grantee: str, scope: str, owner: str | None
    ) -> builtins.list[tuple[str, builtins.list[str]]]:
        """(owner, scopes) of the grants ``grantee`` holds with ``scope``."""
        rows = await self._engine.db.read(q.received, grantee)
        return [
            (r["owner_app_id"], list(r["scopes"]))
            for r in rows
            if scope in r["scopes"] and (owner is None or r["owner_app_id"] == owner)
        ]

    async def _log(
        self, owner: str, actor: str, action: str, target: str, details: dict[str, Any]
    ) -> None:
        await self._engine.db.write(
            _audit, self._engine.clock.now_ms(), owner, actor, action, target, details
        )

    async def session(
        self, grantee: str, session_id: str, actor: str, owner: str | None = None
    ) -> FederatedSession:
        """A session of an app that granted ``sessions``: with events and profile if granted."""
        engine = self._engine
        for app_id, scopes in await self._owners(grantee, "sessions", owner):
            try:
                session = await engine.sessions.get(app_id, session_id)
            except NotFound:
                continue
            events = None
            if "events" in scopes:
                page = await engine.events.timeline(app_id, session_id, limit=MAX_EVENTS)
                events = [e.model_dump(mode="json") for e in page.items]
            profile = None
            if "profile" in scopes and session.user_id:
                profile = await self._profile_or_none(app_id, session.user_id)
            await self._log(
                app_id,
                f"app:{grantee}/{actor}",
                "federation.session",
                session_id,
                {"grantee": grantee, "scopes": scopes},
            )
            return FederatedSession(
                app_id=app_id,
                session=session.model_dump(mode="json"),
                events=events,
                profile=profile,
            )
        raise NotFound(f"No session {session_id!r}.", details={"session_id": session_id})

    async def _profile_or_none(self, app_id: str, user_id: str) -> Profile | None:
        try:
            return await self._engine.personalization.profiles.get(app_id, user_id)
        except NotFound:
            return None

    async def profile(
        self, grantee: str, user_id: str, actor: str, owner: str | None = None
    ) -> Profile:
        """A user's profile in an app that granted ``profile``."""
        for app_id, _ in await self._owners(grantee, "profile", owner):
            profile = await self._profile_or_none(app_id, user_id)
            if profile is None:
                continue
            await self._log(
                app_id,
                f"app:{grantee}/{actor}",
                "federation.profile",
                subject_ref(user_id),
                {"grantee": grantee},
            )
            return profile
        raise NotFound(f"No profile for user {user_id!r}.", details={"user_id": user_id})

    async def record_events(
        self, grantee: str, body: FederatedEventsIn, actor: str
    ) -> IngestResult:
        """Record events into another app's session, each tagged with ``source_app``."""
        engine = self._engine
        rows = await engine.db.read(q.received, grantee)
        grant = next((r for r in rows if r["owner_app_id"] == body.app_id), None)
        if grant is None:
            raise NotFound(
                f"No session {body.session_id!r}.", details={"session_id": body.session_id}
            )
        if "write_events" not in grant["scopes"]:
            raise Forbidden(
                "The grant does not allow recording events (write_events).",
                details={"scope": "write_events"},
            )
        await engine.sessions.get(body.app_id, body.session_id)  # 404 when it is not there
        tagged = [
            {**e, "properties": {**(e.get("properties") or {}), "source_app": grantee}}
            if isinstance(e.get("properties", {}), dict)
            else e
            for e in body.events
        ]
        result = await engine.events.ingest(body.app_id, tagged, session_id=body.session_id)
        await self._log(
            body.app_id,
            f"app:{grantee}/{actor}",
            "federation.events",
            body.session_id,
            {"grantee": grantee, "accepted": result.accepted, "rejected": len(result.rejected)},
        )
        return result
