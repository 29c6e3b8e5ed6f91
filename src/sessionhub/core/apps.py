"""Apps (tenants) and their API keys: create, configure, issue, authenticate, rotate, revoke."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Connection

from sessionhub.clock import from_ms, to_ms
from sessionhub.core.audit import record_audit
from sessionhub.errors import Conflict, InvalidInput, NotFound, Unauthorized
from sessionhub.ids import hash_secret, new_id, new_secret
from sessionhub.models import App, AppSettings, IssuedKey, Key, KeyKind
from sessionhub.storage import apps as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

KEY_PREFIX: dict[str, str] = {"publishable": "pk", "secret": "sk", "admin": "ak"}
DEFAULT_OVERLAP_S = 86_400  # a rotated key keeps working a day, so deploys can roll over


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id, its kind and its app (None for admin keys)."""

    key_id: str
    kind: KeyKind
    app_id: str | None


def app_model(row: Mapping[Any, Any]) -> App:
    return App(
        id=row["id"],
        name=row["name"],
        settings=AppSettings.model_validate(row["settings"]),
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
    )


def key_model(row: Mapping[Any, Any]) -> Key:
    return Key(
        id=row["id"],
        app_id=row["app_id"],
        kind=row["kind"],
        name=row["name"],
        prefix=row["token_prefix"],
        created_at=from_ms(row["created_at"]),
        expires_at=from_ms(row["expires_at"]) if row["expires_at"] is not None else None,
        revoked_at=from_ms(row["revoked_at"]) if row["revoked_at"] is not None else None,
    )


def merge_settings(current: AppSettings, patch: dict[str, Any]) -> AppSettings:
    """Apply a partial settings change, validating the result as a whole."""
    merged = current.model_dump()
    merged.update(patch)
    try:
        return AppSettings.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc, prefix=("settings",)) from exc


class Apps:
    """Tenants: each owns its sessions, keys and settings."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._cache: dict[str, tuple[int, AppSettings]] = {}

    async def create(
        self, name: str, settings: AppSettings | None = None, *, actor: str = "system"
    ) -> App:
        """Create an app with ``settings`` (defaults when omitted); ``actor`` goes to the audit log."""
        now = self._engine.clock.now_ms()
        settings = settings or AppSettings()
        row: dict[str, Any] = {
            "id": new_id("app"),
            "name": name,
            "settings": settings.model_dump(mode="json", exclude_unset=False),
            "created_at": now,
            "updated_at": now,
        }
        await self._engine.db.write(
            _audited,
            q.insert_app,
            (row,),
            now,
            row["id"],
            actor,
            "app.create",
            row["id"],
            {"name": name},
        )
        return await self.get(row["id"])

    async def get(self, app_id: str) -> App:
        row = await self._engine.db.read(q.get_app, app_id)
        if row is None:
            raise NotFound(f"No app {app_id!r}.", details={"app_id": app_id})
        return app_model(row)

    async def list(self) -> list[App]:
        return [app_model(row) for row in await self._engine.db.read(q.list_apps)]

    async def update(
        self,
        app_id: str,
        *,
        name: str | None = None,
        settings: dict[str, Any] | None = None,
        actor: str = "system",
    ) -> App:
        """Rename an app or change some of its settings (the rest keep their values)."""
        current = await self.get(app_id)
        values: dict[str, Any] = {"updated_at": self._engine.clock.now_ms()}
        if name is not None:
            values["name"] = name
        if settings:
            merged = merge_settings(current.settings, settings)
            values["settings"] = merged.model_dump(mode="json")
        # The audit entry names what changed, not the new values (settings may be long).
        changed = {"name": name is not None, "settings": sorted(settings or {})}
        await self._engine.db.write(
            _audited,
            q.update_app,
            (app_id, values),
            values["updated_at"],
            app_id,
            actor,
            "app.update",
            app_id,
            changed,
        )
        self._cache.pop(app_id, None)
        return await self.get(app_id)

    async def settings(self, app_id: str) -> AppSettings:
        """The app's settings, cached for ``app_cache_s`` seconds (settings change rarely)."""
        now = self._engine.clock.now_ms()
        cached = self._cache.get(app_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        settings = (await self.get(app_id)).settings
        self._cache[app_id] = (now + int(self._engine.settings.app_cache_s * 1000), settings)
        return settings

    async def count(self) -> int:
        return await self._engine.db.read(q.count_apps)


class Keys:
    """API keys: stored as hashes, compared in constant time, revocable and rotatable."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def issue(
        self,
        kind: KeyKind,
        app_id: str | None = None,
        name: str = "",
        *,
        actor: str = "system",
        replaces: str | None = None,
    ) -> IssuedKey:
        """Create a key and return it with its token (the only time the token is shown)."""
        if kind == "admin":
            app_id = None
        elif app_id is None:
            raise InvalidInput(f"A {kind} key needs an app_id.", details={"field": "app_id"})
        else:
            await self._engine.apps.get(app_id)
        token = new_secret(KEY_PREFIX[kind])
        row = {
            "id": new_id("key"),
            "app_id": app_id,
            "kind": kind,
            "name": name,
            "token_hash": hash_secret(token),
            "token_prefix": token[:10],
            "created_at": self._engine.clock.now_ms(),
            "expires_at": None,
            "revoked_at": None,
        }
        details = {"kind": kind, "prefix": row["token_prefix"]}
        if replaces is not None:
            details["replaces"] = replaces
        await self._engine.db.write(
            _audited,
            q.insert_key,
            (row,),
            row["created_at"],
            app_id,
            actor,
            "key.create",
            row["id"],
            details,
        )
        return IssuedKey(**key_model(row).model_dump(), token=token)

    async def authenticate(self, token: str) -> Caller:
        """Return who ``token`` belongs to, or raise Unauthorized."""
        digest = hash_secret(token)
        row = await self._engine.db.read(q.key_by_hash, digest)
        now = self._engine.clock.now_ms()
        if (
            row is None
            or not hmac.compare_digest(row["token_hash"], digest)
            or row["revoked_at"] is not None
            or (row["expires_at"] is not None and row["expires_at"] <= now)
        ):
            raise Unauthorized("The API key is unknown, revoked or expired.")
        return Caller(key_id=row["id"], kind=row["kind"], app_id=row["app_id"])

    async def get(self, key_id: str, app_id: str | None = None) -> Key:
        row = await self._engine.db.read(q.get_key, key_id)
        if row is None or (app_id is not None and row["app_id"] != app_id):
            raise NotFound(f"No key {key_id!r}.", details={"key_id": key_id})
        return key_model(row)

    async def list(self, app_id: str | None = None, include_revoked: bool = False) -> list[Key]:
        now = self._engine.clock.now_ms()
        rows = await self._engine.db.read(q.list_keys, app_id, include_revoked, now)
        return [key_model(row) for row in rows]

    async def revoke(self, key_id: str, app_id: str | None = None, *, actor: str = "system") -> Key:
        """Stop a key working at once (keys are read on every request: no cache delays it)."""
        key = await self.get(key_id, app_id)
        if key.revoked_at is None:
            now = self._engine.clock.now_ms()
            await self._engine.db.write(
                _audited,
                q.set_key_times,
                (key_id, {"revoked_at": now}),
                now,
                key.app_id,
                actor,
                "key.revoke",
                key_id,
                {"kind": key.kind},
            )
        return await self.get(key_id)

    async def rotate(
        self,
        key_id: str,
        overlap_s: int = DEFAULT_OVERLAP_S,
        app_id: str | None = None,
        *,
        actor: str = "system",
    ) -> IssuedKey:
        """Issue a new key of the same kind; the old one works for ``overlap_s`` more seconds.

        ``overlap_s=0`` revokes the old key at once. An old key already in an overlap keeps
        the earlier of its end and the new one: rotation never lengthens a key's life.
        """
        old = await self.get(key_id, app_id)
        now = self._engine.clock.now_ms()
        if old.revoked_at is not None or (
            old.expires_at is not None and to_ms(old.expires_at) <= now
        ):
            raise Conflict(
                f"Key {key_id!r} is revoked or expired; issue a new one instead.",
                details={"key_id": key_id},
            )
        new = await self.issue(old.kind, old.app_id, old.name, actor=actor, replaces=key_id)
        if overlap_s > 0:
            ends = now + overlap_s * 1000
            if old.expires_at is not None:
                ends = min(ends, to_ms(old.expires_at))
            values: dict[str, int | None] = {"expires_at": ends}
        else:
            values = {"revoked_at": now}
        await self._engine.db.write(
            _audited,
            q.set_key_times,
            (key_id, values),
            now,
            old.app_id,
            actor,
            "key.rotate",
            key_id,
            {"new_key_id": new.id, "overlap_s": overlap_s, **{k: v for k, v in values.items()}},
        )
        return new


def _audited(
    conn: Connection,
    change: Callable[..., Any],
    args: tuple[Any, ...],
    now: int,
    app_id: str | None,
    actor: str,
    action: str,
    target: str | None,
    details: Mapping[str, Any],
) -> Any:
    """Run ``change(conn, *args)`` and record it in the audit log, in one transaction."""
    result = change(conn, *args)
    record_audit(
        conn, now=now, app_id=app_id, actor=actor, action=action, target=target, details=details
    )
    return result
