"""Rate limits per key, per session and per client IP, and the harder limit for id guessers.

Counting is the ``limits`` library's sliding-window counter: in this process's memory by
default, in Redis when ``redis_url`` is set, so every API replica counts against the same
windows. A key or client IP that asks for many sessions that do not exist (someone
guessing ids) is marked a suspect for a while: its requests then fall under the much
lower ``suspect`` limit, and the first mark is written to the audit log.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from sessionhub.core.rate_windows import MemoryWindows
from sessionhub.errors import RateLimited

if TYPE_CHECKING:
    from sessionhub.core.apps import Caller
    from sessionhub.core.engine import Engine
    from sessionhub.models.apps import RateLimitSettings

_PREFIX = "sessionhub"


@dataclass(frozen=True, slots=True)
class Check:
    """One limit to count a request against: its policy name, who it counts, and the rate."""

    policy: str  # "key", "session", "ip" or "suspect": the name clients see in RateLimit headers
    who: str
    rate: str


def rate_item(spec: str) -> RateLimitItem:
    """The ``limits`` item for ``"600/minute"``-style text (ValueError when it is not one)."""
    items = _ITEMS.get(spec)
    if items is None:
        items = _ITEMS[spec] = parse(spec)
    return items


_ITEMS: dict[str, RateLimitItem] = {}


def redis_storage(redis_url: str) -> RedisStorage:
    """Counters in Redis, shared by every replica."""
    return RedisStorage(
        "async+" + redis_url, implementation="redispy", key_prefix=f"{_PREFIX}-limits"
    )


class RateLimits:
    """Count requests against their limits; raise RateLimited (429) when one is used up."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.enabled: bool = engine.settings.rate_limits
        # In Redis when shared by replicas (``limits`` counts there), else in this process's
        # memory: the same sliding-window counts, with no awaiting on each check.
        self.storage: RedisStorage | None = None
        self._memory = MemoryWindows()
        if engine.settings.redis_url:
            self.storage = redis_storage(engine.settings.redis_url)
            self._limiter = SlidingWindowCounterRateLimiter(self.storage)
        # Suspects known to this process, with when their mark ends (time.time()). Checked on
        # every request, so a dict lookup rather than a storage round trip; other replicas
        # mark a suspect themselves on its next miss, as the miss counters are shared.
        self._suspects: dict[str, float] = {}

    def checks(
        self,
        caller: Caller,
        limits: RateLimitSettings,
        *,
        ip: str | None,
        session_id: str | None,
    ) -> list[Check]:
        """The limits a request by ``caller`` counts against."""
        checks = []
        if limits.per_key is not None:
            checks.append(Check("key", caller.key_id, limits.per_key))
        # Browser traffic (publishable keys) is also held per visitor and per session; server
        # traffic (secret keys) comes from a few backend addresses and is held per key only.
        if caller.kind == "publishable":
            if limits.per_ip is not None and ip is not None:
                checks.append(Check("ip", ip, limits.per_ip))
            if limits.per_session is not None and session_id is not None:
                checks.append(Check("session", f"{caller.app_id}/{session_id}", limits.per_session))
        if self._suspects and limits.suspect is not None:
            now = time.time()
            for who in _suspect_names(caller, ip):
                until = self._suspects.get(who)
                if until is not None:
                    if until > now:
                        checks.append(Check("suspect", who, limits.suspect))
                    else:
                        del self._suspects[who]
        return checks

    async def hit(self, checks: list[Check]) -> None:
        """Count one request against every check; raise RateLimited naming the first one used up."""
        if not checks:
            return
        items = [rate_item(check.rate) for check in checks]
        if self.storage is not None:  # one network round trip each: wait for all of them at once
            results = await asyncio.gather(
                *(
                    self._limiter.hit(item, check.policy, check.who)
                    for item, check in zip(items, checks, strict=True)
                )
            )
        else:
            hit = self._memory.hit
            results = [
                hit(item, check.policy, check.who)
                for item, check in zip(items, checks, strict=True)
            ]
        for ok, item, check in zip(results, items, checks, strict=True):
            if not ok:
                await self._refuse(item, check)

    async def _refuse(self, item: RateLimitItem, check: Check) -> None:
        if self.storage is not None:
            stats = await self._limiter.get_window_stats(item, check.policy, check.who)
        else:
            stats = self._memory.get_window_stats(item, check.policy, check.who)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"Too many requests ({check.policy} limit {item.amount} per "
            f"{item.get_expiry()} s); retry in {retry_after} s.",
            details={
                "policy": check.policy,
                "limit": item.amount,
                "window_s": item.get_expiry(),
                "retry_after_s": retry_after,
            },
        )

    async def note_unknown_session(
        self, caller: Caller, limits: RateLimitSettings, ip: str | None
    ) -> list[str]:
        """Count a lookup of a session that does not exist; return who became a suspect by it.

        Keys are counted under ``unknown_sessions_per_key``; client IPs of publishable-key
        requests under ``unknown_sessions_per_ip`` (behind a secret key the IP is the app's
        own backend, whose stale ids are no attack).
        """
        counted: list[tuple[str, str]] = []
        if limits.unknown_sessions_per_key is not None:
            counted.append((f"key:{caller.key_id}", limits.unknown_sessions_per_key))
        if caller.kind == "publishable" and ip is not None and limits.unknown_sessions_per_ip:
            counted.append((f"ip:{ip}", limits.unknown_sessions_per_ip))
        marked = []
        for who, rate in counted:
            item = rate_item(rate)
            if self.storage is not None:
                allowed = await self._limiter.hit(item, "unknown-session", who)
            else:
                allowed = self._memory.hit(item, "unknown-session", who)
            if allowed:
                continue
            until = time.time() + limits.suspect_for_s
            self._suspects[who] = until
            # The shared mark makes exactly one replica (the first) report the suspect.
            key = f"{_PREFIX}/suspect/{who}"
            if self.storage is not None:
                times = await self.storage.incr(key, limits.suspect_for_s)
            else:
                times = self._memory.incr(key, limits.suspect_for_s)
            if times == 1:
                marked.append(who)
        return marked

    async def reset(self) -> None:
        """Forget every count and suspect (tests and operators after a false alarm)."""
        self._suspects.clear()
        self._memory.reset()
        if self.storage is not None:
            await self.storage.reset()

    async def close(self) -> None:
        """Let go of the Redis connections, if any."""
        if self.storage is not None:
            client: Any = getattr(getattr(self.storage, "bridge", None), "storage", None)
            if client is not None and hasattr(client, "aclose"):
                await client.aclose()


def _suspect_names(caller: Caller, ip: str | None) -> tuple[str, ...]:
    key = f"key:{caller.key_id}"
    return (key, f"ip:{ip}") if ip is not None else (key,)
