"""Rate limits and origin rules at the door: checked once the key is known, before the route runs.

A refused request is a 429 with ``Retry-After`` and the ``RateLimit`` / ``RateLimit-Policy``
fields of draft-ietf-httpapi-ratelimit-headers (see docs/security.md). A 404 for a session
id counts towards the key's and client IP's unknown-session lookups: past the app's
threshold they become suspects, held to a much lower limit and written to the audit log.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sessionhub.api.errors import error_response
from sessionhub.core.apps import Caller
from sessionhub.core.audit import actor_of, subject_ref
from sessionhub.core.engine import Engine
from sessionhub.enrich.client import client_info
from sessionhub.errors import Forbidden, NotFound, RateLimited
from sessionhub.models.apps import AppSettings, RateLimitSettings

_ADMIN_LIMITS = RateLimitSettings()
SUSPECT_ACTION = "security.suspect"


def client_ip(request: Request, engine: Engine) -> str | None:
    """The client's IP, behind trusted proxies only (as api.context.client_of works it out)."""
    peer = request.client.host if request.client else None
    return client_info(peer, request.headers, engine.trusted_proxies).ip


def check_origin(request: Request, caller: Caller, settings: AppSettings) -> None:
    """Hold a request from a web page (it has an ``Origin``) to the app's origin rules.

    Publishable keys only from the app's allowed origins (any, when it lists none); secret
    keys not at all unless the app allows it: a secret key in a web page is a leaked key.
    """
    origin = request.headers.get("origin")
    if not origin:
        return
    if caller.kind == "publishable":
        allowed = settings.allowed_origins
        if allowed and "*" not in allowed and origin not in allowed:
            raise Forbidden(
                f"Origin {origin!r} is not among the app's allowed origins.",
                details={"origin": origin, "field": "allowed_origins"},
            )
    elif caller.kind == "secret" and not settings.allow_secret_keys_from_browsers:
        raise Forbidden(
            "Secret keys are not accepted from web pages (this request has an Origin header); "
            "use a publishable key there, or set allow_secret_keys_from_browsers.",
            details={"origin": origin, "field": "allow_secret_keys_from_browsers"},
        )


async def enforce(
    request: Request, engine: Engine, caller: Caller, settings: AppSettings | None
) -> None:
    """Count the request against its limits (429 when one is used up)."""
    limits = settings.rate_limits if settings is not None else _ADMIN_LIMITS
    # Only browser traffic is limited per client IP: don't work out the IP for the rest.
    ip = client_ip(request, engine) if caller.kind == "publishable" else None
    rate_limits = engine.rate_limits
    await rate_limits.hit(
        rate_limits.checks(caller, limits, ip=ip, session_id=request.path_params.get("session_id"))
    )


def _rate_limit_headers(exc: RateLimited) -> dict[str, str]:
    details = exc.details
    policy = str(details.get("policy", "default"))
    retry = int(details.get("retry_after_s", 1))
    return {
        "Retry-After": str(retry),
        # draft-ietf-httpapi-ratelimit-headers-10/11: a quoted policy name and parameters.
        "RateLimit-Policy": f'"{policy}";q={details.get("limit", 0)};w={details.get("window_s", 0)}',
        "RateLimit": f'"{policy}";r=0;t={retry}',
    }


async def _note_miss(request: Request, exc: NotFound) -> None:
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None or caller.app_id is None or "session_id" not in exc.details:
        return
    engine: Engine = request.app.state.engine
    if not engine.rate_limits.enabled:
        return
    settings = await engine.apps.settings(caller.app_id)
    ip = client_ip(request, engine) if caller.kind == "publishable" else None
    marked = await engine.rate_limits.note_unknown_session(caller, settings.rate_limits, ip)
    for who in marked:
        kind, _, value = who.partition(":")
        # A client IP is personal data: the log keeps a salted hash of it, never the address.
        target = who if kind == "key" else f"ip:{subject_ref(value)}"
        details = {
            "reason": "unknown_session_lookups",
            "threshold": (
                settings.rate_limits.unknown_sessions_per_key
                if kind == "key"
                else settings.rate_limits.unknown_sessions_per_ip
            ),
            "limit": settings.rate_limits.suspect,
            "for_s": settings.rate_limits.suspect_for_s,
        }
        await engine.audit.record(
            app_id=caller.app_id,
            actor=actor_of(caller),
            action=SUSPECT_ACTION,
            target=target,
            details=details,
        )


def install(app: FastAPI) -> None:
    """Render 429s with their headers and count unknown-session 404s."""

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> Response:
        return error_response(exc, headers=_rate_limit_headers(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        await _note_miss(request, exc)
        return error_response(exc)
