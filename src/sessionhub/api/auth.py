"""Who may call what: API keys from ``Authorization: Bearer …`` and their scopes.

Publishable keys (``pk_``) are browser-safe and write-only: they start sessions, send
heartbeats and end sessions, and only from the app's allowed origins. Secret keys
(``sk_``) do everything in their app. Admin keys (``ak_``) manage apps and keys.
A key never reaches another app's data: such ids simply do not exist for it (404).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from sessionhub.api.ratelimit import check_origin, enforce
from sessionhub.core.apps import Caller
from sessionhub.core.engine import Engine
from sessionhub.errors import Forbidden, Unauthorized


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


class KeyAuth(HTTPBearer):
    """The caller of a request, from its bearer key, held to the kinds of key allowed.

    An instance is both the dependency and its OpenAPI security scheme: resolving a
    separate ``HTTPBearer`` dependency under it cost FastAPI about as much as the key
    lookup itself, on every request.
    """

    def __init__(self, kinds: frozenset[str], refusal: str):
        super().__init__(
            scheme_name="HTTPBearer", description="An API key: pk_…, sk_… or ak_…", auto_error=False
        )
        self.kinds = kinds
        self.refusal = refusal

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
        return await self.authorize(request, token)

    async def authorize(self, request: Request, token: str) -> Caller:
        """The caller of ``token`` (from wherever the request carries it), held to the rules."""
        engine = get_engine(request)
        caller = await engine.keys.authenticate(token)
        if caller.kind not in self.kinds:
            raise Forbidden(self.refusal)
        settings = await engine.apps.settings(caller.app_id) if caller.app_id else None
        if settings is not None:
            check_origin(request, caller, settings)
        if engine.rate_limits.enabled:
            await enforce(request, engine, caller, settings)
        # For the 404 handler, which counts unknown-session lookups per key and client IP.
        request.state.caller = caller
        return caller


admin_key = KeyAuth(frozenset({"admin"}), "This needs an admin key (ak_…).")
"""An admin key."""
secret_key = KeyAuth(frozenset({"secret"}), "This needs a secret key (sk_…).")
"""A secret key of an app."""
app_key = KeyAuth(
    frozenset({"publishable", "secret"}),
    "Admin keys manage apps; use the app's publishable or secret key here.",
)
"""A publishable or secret key of an app; publishable ones only from allowed origins."""


def app_id_of(caller: Caller) -> str:
    assert caller.app_id is not None
    return caller.app_id
