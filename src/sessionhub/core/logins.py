"""Dashboard sign-ins: a server-side login per browser, from an admin or a secret key.

The browser holds a random token in a cookie; the database holds its hash, the key it
signed in with, the app it looks at and its CSRF token. A sign-in lasts ``LIFETIME_MS``
from its last use, and ends at once when its key is revoked or expires.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionhub.clock import to_ms
from sessionhub.errors import Forbidden, Unauthorized
from sessionhub.ids import hash_secret
from sessionhub.storage import dashboard as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

LIFETIME_MS = 12 * 3_600_000
# Refresh last_seen_at at most this often: a write per page view would queue behind ingest.
TOUCH_EVERY_MS = 300_000


@dataclass(frozen=True, slots=True)
class Login:
    """A signed-in browser: its key, the app it looks at (None: an admin with no app yet)."""

    id: str
    key_id: str
    kind: str
    app_id: str | None
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"


class Logins:
    """Sign in with a key, look a cookie up, switch app, sign out."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def sign_in(self, token: str) -> tuple[str, Login]:
        """The cookie value and the login of a valid admin or secret key."""
        caller = await self._engine.keys.authenticate(token.strip())
        if caller.kind not in ("admin", "secret"):
            raise Forbidden("Sign in with a secret key (sk_…) or an admin key (ak_…).")
        app_id = caller.app_id
        if caller.kind == "admin":
            apps = await self._engine.apps.list()
            app_id = apps[0].id if apps else None
        now = self._engine.clock.now_ms()
        cookie = secrets.token_urlsafe(32)
        row = {
            "id": hash_secret(cookie),
            "key_id": caller.key_id,
            "kind": caller.kind,
            "app_id": app_id,
            "csrf": secrets.token_urlsafe(32),
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + LIFETIME_MS,
        }
        await self._engine.db.write(q.insert_login, row)
        await self._engine.db.write(q.delete_expired, now)
        return cookie, _login(row)

    async def find(self, cookie: str) -> Login:
        """The login of a cookie, while it and its key are valid; else Unauthorized."""
        now = self._engine.clock.now_ms()
        row = await self._engine.db.read(q.get_login, hash_secret(cookie), now)
        if row is None:
            raise Unauthorized("Sign in again.")
        key = await self._engine.keys.get(row["key_id"])
        if key.revoked_at is not None or (
            key.expires_at is not None and to_ms(key.expires_at) <= now
        ):
            await self._engine.db.write(q.delete_login, row["id"])
            raise Unauthorized("The key of this sign-in was revoked; sign in again.")
        if now - row["last_seen_at"] > TOUCH_EVERY_MS:
            values = {"last_seen_at": now, "expires_at": now + LIFETIME_MS}
            await self._engine.db.write(q.update_login, row["id"], values)
        return _login(row)

    async def switch_app(self, login: Login, app_id: str) -> None:
        """Point an admin's login at another app."""
        if not login.is_admin:
            raise Forbidden("Only an admin sign-in can switch apps.")
        await self._engine.apps.get(app_id)
        await self._engine.db.write(q.update_login, login.id, {"app_id": app_id})

    async def sign_out(self, login: Login) -> None:
        await self._engine.db.write(q.delete_login, login.id)


def _login(row: Mapping[Any, Any]) -> Login:
    return Login(
        id=row["id"], key_id=row["key_id"], kind=row["kind"], app_id=row["app_id"], csrf=row["csrf"]
    )
