"""Apps (tenants), their settings and API keys."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse as parse_rate
from pydantic import (
    AfterValidator,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
)

from sessionhub.models.analytics import AnalyticsSettings
from sessionhub.models.common import Input, Output, Seconds, SessionKind, ShortText, Url
from sessionhub.models.memory import StopwordLanguage
from sessionhub.models.privacy import ConsentMode, RetentionSettings

KeyKind = Literal["publishable", "secret", "admin"]
LimitBehaviour = Literal["deny", "evict_oldest"]


def _rate(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        item = parse_rate(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a rate like '600/minute' or '10 per second'") from exc
    if not 1 <= item.amount <= 10**9:
        raise ValueError(f"{value!r}: the number of requests must be from 1 to 10^9")
    if item.get_expiry() > 31 * 86400:
        raise ValueError(f"{value!r}: the window may be at most 31 days")
    return value


# A rate in the ``limits`` notation: "600/minute", "10 per second", "5000/hour"; null = no limit.
Rate = Annotated[str, StringConstraints(max_length=50), AfterValidator(_rate)]


class RateLimitSettings(Input):
    """An app's rate limits (see docs/security.md); ``null`` turns one off.

    Every request counts against its key's limit; requests with a publishable key (browser
    traffic) also against their client IP's and their session's.
    """

    per_key: Rate | None = Field(default="600000/minute", description="Requests per key.")
    per_ip: Rate | None = Field(
        default="3000/minute", description="Publishable-key requests per client IP."
    )
    per_session: Rate | None = Field(
        default="600/minute", description="Publishable-key requests naming one session."
    )
    unknown_sessions_per_key: Rate | None = Field(
        default="6000/minute",
        description="Lookups of sessions that do not exist per key before it is a suspect.",
    )
    unknown_sessions_per_ip: Rate | None = Field(
        default="60/minute",
        description="Publishable-key lookups of unknown sessions per client IP before it is a suspect.",
    )
    suspect: Rate | None = Field(
        default="60/minute", description="The limit for a suspect key or client IP."
    )
    suspect_for_s: Annotated[int, Field(ge=1, le=7 * 86400)] = Field(
        default=900, description="How long a key or client IP stays a suspect."
    )


class KindLimits(Input):
    """Idle and absolute limits for one session kind; ``null`` means no limit.

    A limit left out inherits the app's; only the ones given are kept and shown, so
    "no limit" (``null``) and "as the app" (absent) never look alike.
    """

    idle_timeout_s: Seconds | None = None
    absolute_lifetime_s: Seconds | None = None

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {name: value for name, value in dumped.items() if name in self.model_fields_set}


class AppSettings(Input):
    """An app's settings. Timeouts apply to sessions started after a change."""

    idle_timeout_s: Seconds | None = 1800
    absolute_lifetime_s: Seconds | None = 86400
    kinds: dict[SessionKind, KindLimits] = Field(
        default_factory=lambda: {
            "work": KindLimits(idle_timeout_s=None, absolute_lifetime_s=None),
            # A conversation's inactivity limit is its history TTL (history_ttl_s); the
            # session itself lives on to its absolute lifetime.
            "conversation": KindLimits(idle_timeout_s=None),
        },  # type: ignore[arg-type]
        description="Per-kind overrides of the idle and absolute limits.",
    )
    timezone: str = "UTC"
    allowed_origins: list[Url] = Field(default_factory=list, max_length=100)
    max_sessions_per_user: Annotated[int, Field(ge=1, le=10_000)] | None = None
    session_limit_behaviour: LimitBehaviour = "deny"
    late_event_window_s: Annotated[int, Field(ge=60, le=365 * 86400)] = Field(
        default=3 * 86400, description="Events older than this (by their timestamp) are rejected."
    )
    split_sessions_at_midnight: bool = Field(
        default=False,
        description="Sessionized events start a new session at midnight (app timezone).",
    )
    split_on_campaign_change: bool = Field(
        default=False,
        description="Sessionized events start a new session when utm_campaign changes.",
    )
    history_ttl_s: Seconds | None = Field(
        default=7200,
        description="Conversation history expires after this long without a new message.",
    )
    stopword_language: StopwordLanguage = Field(
        default="en", description="Language of the stopwords left out of a session's top topics."
    )
    analytics: AnalyticsSettings = Field(
        default_factory=AnalyticsSettings,
        description="Bounce rule, conversion events and user-pattern thresholds.",
    )
    consent_mode: ConsentMode = Field(
        default="opt_out",
        description="opt_out: tracked until the person opts out; required: no events before analytics consent.",
    )
    honor_dnt: bool = Field(
        default=False, description="Drop events from requests that send the DNT: 1 header."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings,
        description="Days raw events, messages and ended sessions are kept (rollups stay).",
    )
    rate_limits: RateLimitSettings = Field(
        default_factory=RateLimitSettings,
        description="Requests allowed per key, client IP and session (429 above).",
    )
    allow_secret_keys_from_browsers: bool = Field(
        default=False,
        description="Accept secret keys on requests with an Origin header (from a web page).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name like 'Europe/Berlin')"
            ) from exc
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin like 'https://example.com'")
        return value

    def limits_ms(self, kind: str) -> tuple[int | None, int | None]:
        """The idle and absolute limits, in ms, for sessions of ``kind``."""
        idle, absolute = self.idle_timeout_s, self.absolute_lifetime_s
        override = self.kinds.get(kind)  # type: ignore[call-overload]
        if override is not None:
            if "idle_timeout_s" in override.model_fields_set:
                idle = override.idle_timeout_s
            if "absolute_lifetime_s" in override.model_fields_set:
                absolute = override.absolute_lifetime_s
        return (
            idle * 1000 if idle is not None else None,
            absolute * 1000 if absolute is not None else None,
        )


class AppCreate(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    settings: AppSettings = Field(default_factory=AppSettings)


class AppUpdate(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    settings: dict[str, Any] | None = Field(
        default=None, description="Settings to change; the rest keep their values."
    )


class App(Output):
    id: str
    name: str
    settings: AppSettings
    created_at: datetime
    updated_at: datetime


class KeyCreate(Input):
    kind: KeyKind
    name: ShortText = ""
    app_id: str | None = Field(
        default=None, description="Required for publishable and secret keys."
    )


class KeyRotate(Input):
    overlap_s: Annotated[int, Field(ge=0, le=30 * 86400)] = Field(
        default=86_400,
        description="Seconds the old key keeps working after rotation (default a day; 0: it stops at once).",
    )


class Key(Output):
    id: str
    app_id: str | None
    kind: KeyKind
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedKey(Key):
    token: str = Field(description="The key itself. Shown once; only its hash is stored.")
