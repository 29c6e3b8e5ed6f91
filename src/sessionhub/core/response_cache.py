"""Cached answers by prompt, per session or per app, with a TTL and hit/miss counts.

Prompts are normalized before they are compared (Unicode NFKC, case folded, runs of
whitespace made one space, trimmed), so "What phones?" and "  what   PHONES? " are the
same question. Only a SHA-256 of the normalized prompt is the key.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping

from sessionhub.clock import from_ms
from sessionhub.core.session_rows import check_json_size, existing_session, locked_session
from sessionhub.models import CacheEntry, CacheLookup, CachePut, CacheResult, CacheStats
from sessionhub.storage import memory as mq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

APP_SCOPE = "app"


def normalize_prompt(prompt: str) -> str:
    """The form prompts are compared in: NFKC, case folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", prompt).casefold().split())


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(normalize_prompt(prompt).encode()).hexdigest()


def _scope(
    conn: Connection, app_id: str, session_id: str | None, lock: bool
) -> tuple[str, int | None]:
    if session_id is None:
        return APP_SCOPE, None
    sid: int = (locked_session if lock else existing_session)(conn, app_id, session_id)["sid"]
    return f"session:{sid}", sid


def entry_model(row: Mapping[Any, Any]) -> CacheEntry:
    return CacheEntry(
        scope="app" if row["scope"] == APP_SCOPE else "session",
        prompt=row["prompt"],
        response=row["response"],
        metadata=row["meta"],
        hits=row["hits"],
        created_at=from_ms(row["created_at"]),
        expires_at=from_ms(row["expires_at"]) if row["expires_at"] is not None else None,
    )


def _put(
    conn: Connection,
    app_id: str,
    session_id: str | None,
    req: CachePut,
    expires_at: int | None,
    now: int,
) -> RowMapping:
    scope, sid = _scope(conn, app_id, session_id, True)
    key = prompt_hash(req.prompt)
    row = {
        "app_id": app_id,
        "scope": scope,
        "prompt_hash": key,
        "prompt": req.prompt,
        "response": req.response,
        "meta": req.metadata,
        "session_sid": sid,
        "hits": 0,
        "created_at": now,
        "expires_at": expires_at,
    }
    mq.cache_put(conn, row)
    found = mq.cache_get(conn, app_id, scope, key, now)
    assert found is not None
    return found


def _lookup(
    conn: Connection, app_id: str, session_id: str | None, prompt: str, now: int
) -> RowMapping | None:
    scope, sid = _scope(conn, app_id, session_id, False)
    key = prompt_hash(prompt)
    row = mq.cache_get(conn, app_id, scope, key, now)
    mq.cache_count(conn, app_id, scope, row is not None, sid)
    if row is None:
        return None
    mq.cache_hit(conn, app_id, scope, key)
    return mq.cache_get(conn, app_id, scope, key, now)


def _stats(conn: Connection, app_id: str, session_id: str | None, now: int) -> tuple[int, int, int]:
    scope, _ = _scope(conn, app_id, session_id, False)
    return mq.cache_stats(conn, app_id, scope, now)


def _clear(conn: Connection, app_id: str, session_id: str | None) -> int:
    scope, _ = _scope(conn, app_id, session_id, True)
    return mq.cache_clear(conn, app_id, scope)


class ResponseCache:
    """Answers already given, so an assistant can skip a model call.

    ``session_id`` picks the session's own cache; None picks the app-wide one.
    """

    def __init__(self, engine: Engine):
        self._db = engine.db
        self._clock = engine.clock

    async def put(self, app_id: str, req: CachePut, *, session_id: str | None = None) -> CacheEntry:
        """Store an answer for a prompt (replacing one there was, and resetting its hits)."""
        check_json_size(req.metadata, "metadata")
        now = self._clock.now_ms()
        expires = now + req.ttl_s * 1000 if req.ttl_s is not None else None
        return entry_model(await self._db.write(_put, app_id, session_id, req, expires, now))

    async def lookup(
        self, app_id: str, req: CacheLookup, *, session_id: str | None = None
    ) -> CacheResult:
        """The stored answer for the prompt, if any; counts a hit or a miss."""
        now = self._clock.now_ms()
        row = await self._db.write(_lookup, app_id, session_id, req.prompt, now)
        return CacheResult(hit=row is not None, entry=entry_model(row) if row else None)

    async def stats(self, app_id: str, *, session_id: str | None = None) -> CacheStats:
        now = self._clock.now_ms()
        hits, misses, entries = await self._db.read(_stats, app_id, session_id, now)
        asked = hits + misses
        return CacheStats(
            scope="app" if session_id is None else "session",
            hits=hits,
            misses=misses,
            entries=entries,
            hit_rate=hits / asked if asked else None,
        )

    async def clear(self, app_id: str, *, session_id: str | None = None) -> int:
        """Remove every cached answer of the scope (the counts stay)."""
        return await self._db.write(_clear, app_id, session_id)
