"""Segments: rule trees over user profiles and behaviour, or static lists of users.

Membership is computed when asked (so it is always current): one user's check reads
their profile and the counts its rules need; listing and counting walk the app's user
profiles in chunks, with one grouped query per behaviour condition per chunk. The worker
takes each segment's size once a day for the history.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.pagination import check_limit
from sessionhub.core.personalization import vectors
from sessionhub.core.personalization.profiles import config_of, half_life_ms
from sessionhub.core.personalization.rules import Rule, compile_rules
from sessionhub.core.personalization.traits import compute_traits, engagement, lifecycle
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models import Page
from sessionhub.models.personalization import (
    Membership,
    Segment,
    SegmentCount,
    SegmentDay,
    SegmentHistory,
    SegmentIn,
)
from sessionhub.storage import personalization as pq
from sessionhub.storage import personalization_segments as q
from sessionhub.storage.analytics.sql import SegmentSource

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

CHUNK = 500
# What ``contexts`` reads of a profile, besides traits and the vector when a rule uses them.
RULE_COLUMNS = (
    "subject_id",
    "first_seen",
    "last_seen",
    "resurrected_at",
    "events",
    "sessions",
    "active_days",
)
HISTORY_DAYS = 90


def not_found(key: str) -> NotFound:
    return NotFound(f"No segment {key!r}.", details={"segment": key})


def to_segment(row: Mapping[Any, Any]) -> Segment:
    return Segment(
        key=row["key"],
        name=row["name"],
        kind=row["kind"],
        rules=row["rules"],
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
    )


def contexts(
    conn: Connection,
    app_id: str,
    rule: Rule,
    profiles: Sequence[Mapping[Any, Any]],
    now: int,
) -> builtins.list[dict[str, Any]]:
    """What ``rule`` reads about each of ``profiles``, with as few queries as it needs."""
    ids = [p["subject_id"] for p in profiles]
    config = config_of(conn, app_id) if (rule.needs_affinity or rule.needs_computed) else None
    patterns = pq.patterns_of(conn, app_id, ids) if rule.needs_pattern else {}
    behaviour: dict[tuple[str, int], dict[str, int]] = {
        (name, days): q.behaviour_counts(conn, app_id, ids, name, now - days * vectors.DAY_MS)
        for name, days in rule.behaviours
    }
    out = []
    for profile in profiles:
        uid = profile["subject_id"]
        ctx: dict[str, Any] = {
            "traits": profile.get("traits") or {},
            "pattern": patterns.get(uid),
            "behaviour": {k: counts.get(uid, 0) for k, counts in behaviour.items()},
            "fields": {
                "events": profile["events"],
                "sessions": profile["sessions"],
                "active_days": profile["active_days"],
                "engagement": engagement(profile),
                "lifecycle": lifecycle(profile, now),
                "days_since_last_seen": (now - profile["last_seen"]) // vectors.DAY_MS,
                "days_since_first_seen": (now - profile["first_seen"]) // vectors.DAY_MS,
            },
            "affinities": {},
            "computed": {},
        }
        if config is not None and rule.needs_affinity:
            ranked = vectors.normalised(
                profile["vector"], profile["vector_at"], now, half_life_ms(config), None, 1000
            )
            ctx["affinities"] = {a["dimension"]: a["score"] for a in ranked}
        if config is not None and rule.needs_computed and config.computed_traits:
            window = max(t.window_days for t in config.computed_traits) * vectors.DAY_MS
            rows = pq.subject_events(conn, app_id, "user", uid, now - window)
            ctx["computed"] = compute_traits(config.computed_traits, rows, now)
        out.append(ctx)
    return out


def _members(
    conn: Connection, app_id: str, key: str, now: int, limit: int, after: str | None
) -> tuple[builtins.list[str], bool]:
    """Up to ``limit`` members after ``after`` (by user id), and whether there are more."""
    row = q.get(conn, app_id, key)
    if row is None:
        raise not_found(key)
    if row["kind"] == "static":
        found = q.static_members(conn, app_id, key, limit + 1, after)
        return found[:limit], len(found) > limit
    rule = compile_rules(row["rules"])
    columns = list(RULE_COLUMNS)
    if "trait" in rule.kinds:
        columns.append("traits")
    if rule.needs_affinity:
        columns += ["vector", "vector_at"]
    members: builtins.list[str] = []
    while True:
        page = pq.list_profiles(conn, app_id, "user", CHUNK, after, columns)
        for profile, ctx in zip(page, contexts(conn, app_id, rule, page, now), strict=True):
            if rule.test(ctx):
                if len(members) == limit:
                    return members, True
                members.append(profile["subject_id"])
        if len(page) < CHUNK:
            return members, False
        after = page[-1]["subject_id"]


def _count(conn: Connection, app_id: str, key: str, now: int) -> int:
    row = q.get(conn, app_id, key)
    if row is None:
        raise not_found(key)
    if row["kind"] == "static":
        return q.static_count(conn, app_id, key)
    members, _ = _members(conn, app_id, key, now, 10**9, None)
    return len(members)


def is_member(conn: Connection, app_id: str, key: str, user_id: str, now: int) -> bool:
    """Whether ``user_id`` is in the segment now (a missing segment is a 404)."""
    row = q.get(conn, app_id, key)
    if row is None:
        raise not_found(key)
    if row["kind"] == "static":
        return q.is_static_member(conn, app_id, key, user_id)
    profile = pq.load_profiles(conn, app_id, [("user", user_id)]).get(("user", user_id))
    if profile is None:
        return False
    rule = compile_rules(row["rules"])
    return rule.test(contexts(conn, app_id, rule, [profile], now)[0])


def filter_sources(
    conn: Connection, app_id: str, keys: Sequence[str], now: int
) -> tuple[SegmentSource, ...]:
    """The segments an analytics filter names, resolved: a static one by its stored list
    (a subquery), a rule one by its members now. An unknown key is a 422."""
    found = []
    for key in keys:
        row = q.get(conn, app_id, key)
        if row is None:
            raise InvalidInput(
                f"No segment {key!r} (in filters).", details={"field": "filters", "segment": key}
            )
        if row["kind"] == "static":
            found.append(SegmentSource(app_id, key, static=True))
        else:
            members, _ = _members(conn, app_id, key, now, 10**9, None)
            found.append(SegmentSource(app_id, key, static=False, users=tuple(members)))
    return tuple(found)


def today(now: int, timezone: str) -> int:
    return datetime.fromtimestamp(now / 1000, ZoneInfo(timezone)).toordinal()


def snapshot_app(conn: Connection, app_id: str, day: int, now: int) -> int:
    """Record today's size of each of the app's segments (the worker's daily job)."""
    taken = 0
    for row in q.all_of(conn, app_id):
        q.save_snapshot(conn, app_id, row["key"], day, _count(conn, app_id, row["key"], now), now)
        taken += 1
    return taken


class Segments:
    """Define segments, check and list their members, count them, and show their history."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def put(self, app_id: str, spec: SegmentIn) -> Segment:
        """Create or replace a segment."""
        if spec.rules is not None:
            compile_rules(spec.rules)
        now = self._engine.clock.now_ms()
        row = {
            "app_id": app_id,
            "key": spec.key,
            "name": spec.name or spec.key,
            "kind": "rules" if spec.rules is not None else "static",
            "rules": spec.rules,
            "created_at": now,
            "updated_at": now,
        }
        await self._engine.db.write(q.put, row, spec.users)
        return await self.get(app_id, spec.key)

    async def get(self, app_id: str, key: str) -> Segment:
        row = await self._engine.db.read(q.get, app_id, key)
        if row is None:
            raise not_found(key)
        return to_segment(row)

    async def list(self, app_id: str) -> builtins.list[Segment]:
        return [to_segment(r) for r in await self._engine.db.read(q.all_of, app_id)]

    async def delete(self, app_id: str, key: str) -> None:
        if not await self._engine.db.write(q.remove, app_id, key):
            raise not_found(key)

    async def check(self, app_id: str, key: str, user_id: str) -> Membership:
        now = self._engine.clock.now_ms()
        member = await self._engine.db.read(is_member, app_id, key, user_id, now, heavy=True)
        return Membership(segment=key, user_id=user_id, member=member)

    async def members(
        self, app_id: str, key: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[str]:
        """Members by user id; the cursor is the last id of the previous page."""
        check_limit(limit)
        now = self._engine.clock.now_ms()
        found, more = await self._engine.db.read(
            _members, app_id, key, now, limit, cursor, heavy=True
        )
        return Page[str](items=found, next_cursor=found[-1] if more and found else None)

    async def count(self, app_id: str, key: str) -> SegmentCount:
        now = self._engine.clock.now_ms()
        members = await self._engine.db.read(_count, app_id, key, now, heavy=True)
        return SegmentCount(segment=key, members=members)

    async def history(self, app_id: str, key: str, days: int = HISTORY_DAYS) -> SegmentHistory:
        """The segment's size on each day the worker took it."""
        await self.get(app_id, key)
        settings = await self._engine.apps.settings(app_id)
        since = today(self._engine.clock.now_ms(), settings.timezone) - days
        rows = await self._engine.db.read(q.snapshots, app_id, key, since)
        return SegmentHistory(
            segment=key,
            days=[
                SegmentDay(day=date.fromordinal(r["day"]).isoformat(), members=r["members"])
                for r in rows
            ],
        )

    async def snapshot_all(self) -> int:
        """Take today's size of every segment of apps that have none for today yet."""
        engine = self._engine
        taken = 0
        for app_id in await engine.db.read(q.apps_with_segments):
            now = engine.clock.now_ms()
            day = today(now, (await engine.apps.settings(app_id)).timezone)
            if await engine.db.read(q.has_snapshot, app_id, day):
                continue
            taken += await engine.db.write(snapshot_app, app_id, day, now)
        return taken
