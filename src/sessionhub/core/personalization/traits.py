"""Reading profiles (computed traits, scores, quintiles, lifecycle), setting traits, rebuilding.

Computed traits are evaluated when a profile is read, over the subject's raw events in
each trait's rolling window. ``rebuild`` recomputes stored profiles from raw events with
the same fold ingestion uses, keeping the traits the app set.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.merge_patch import merge_patch
from sessionhub.core.pagination import check_limit
from sessionhub.core.personalization import vectors
from sessionhub.core.personalization.profiles import (
    Folder,
    config_of,
    forget_config,
    half_life_ms,
    new_profile,
    refused_personalization,
    subject_key,
)
from sessionhub.errors import ConsentRequired, InvalidInput, NotFound
from sessionhub.models import Page
from sessionhub.models.personalization import (
    ComputedTrait,
    PersonalizationSettings,
    Profile,
    Quintiles,
    Rebuilt,
    Vector,
)
from sessionhub.storage import personalization as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

NEW_MS = 7 * vectors.DAY_MS
DORMANT_MS = 28 * vectors.DAY_MS
REBUILD_CHUNK = 5000


def compute_traits(
    specs: Sequence[ComputedTrait], rows: Sequence[Mapping[Any, Any]], now: int
) -> dict[str, Any]:
    """Each computed trait over ``rows`` (oldest first) within its window."""
    out: dict[str, Any] = {}
    for spec in specs:
        since = now - spec.window_days * vectors.DAY_MS
        values = [
            (row["properties"] or {}).get(spec.property) if spec.property else None
            for row in rows
            if row["occurred_at"] >= since and (spec.event is None or row["name"] == spec.event)
        ]
        if spec.op == "count":
            out[spec.name] = len(values)
            continue
        present = [v for v in values if v is not None]
        if spec.op == "sum":
            out[spec.name] = sum(
                float(v) for v in present if isinstance(v, int | float) and not isinstance(v, bool)
            )
        elif spec.op == "first":
            out[spec.name] = present[0] if present else None
        elif spec.op == "last":
            out[spec.name] = present[-1] if present else None
        else:
            hashable = [v for v in present if isinstance(v, str | int | float | bool)]
            out[spec.name] = Counter(hashable).most_common(1)[0][0] if hashable else None
    return out


def engagement(profile: Mapping[Any, Any]) -> float:
    """0-100: saturating in active days, sessions and events (diminishing returns)."""
    effort = 2 * profile["active_days"] + profile["sessions"] + profile["events"] / 10
    return round(100 * (1 - math.exp(-effort / 50)), 2)


def lifecycle(profile: Mapping[Any, Any], now: int) -> str:
    if now - profile["last_seen"] > DORMANT_MS:
        return "dormant"
    if now - profile["first_seen"] <= NEW_MS:
        return "new"
    resurrected = profile["resurrected_at"]
    if resurrected is not None and now - resurrected <= NEW_MS:
        return "resurrecting"
    return "returning"


def quintile(below: int, total: int) -> int:
    return 1 + min(4, (5 * below) // max(1, total))


def _read_profile(
    conn: Connection, app_id: str, kind: str, subject_id: str, now: int
) -> dict[str, Any] | None:
    """Everything a profile read needs, in one read transaction."""
    profile = q.load_profiles(conn, app_id, [(kind, subject_id)]).get((kind, subject_id))
    if profile is None:
        return None
    config = config_of(conn, app_id)
    out: dict[str, Any] = {"profile": profile, "config": config, "pattern": None, "ranks": None}
    if config.computed_traits:
        window = max(t.window_days for t in config.computed_traits) * vectors.DAY_MS
        out["rows"] = q.subject_events(conn, app_id, kind, subject_id, now - window)
    if kind == "user":
        out["pattern"] = q.pattern_of(conn, app_id, subject_id)
        out["ranks"] = q.rank_counts(
            conn,
            app_id,
            {
                "last_seen": profile["last_seen"],
                "sessions": profile["sessions"],
                "events": profile["events"],
            },
        )
    return out


def to_profile(data: Mapping[Any, Any], now: int) -> Profile:
    profile = data["profile"]
    config: PersonalizationSettings = data["config"]
    pattern = data["pattern"]
    quintiles = None
    if data["ranks"] is not None:
        total, below = data["ranks"]
        quintiles = Quintiles(
            recency=quintile(below["last_seen"], total),
            frequency=quintile(below["sessions"], total),
            engagement=quintile(below["events"], total),
        )
    score = float(pattern["engagement_score"]) if pattern is not None else engagement(profile)
    affinities = vectors.normalised(
        profile["vector"],
        profile["vector_at"],
        now,
        half_life_ms(config),
        profile["top_events"],
        20,
    )
    return Profile.model_validate(
        {
            "kind": profile["kind"],
            "id": profile["subject_id"],
            "first_seen": from_ms(profile["first_seen"]),
            "last_seen": from_ms(profile["last_seen"]),
            "events": profile["events"],
            "sessions": profile["sessions"],
            "active_days": profile["active_days"],
            "devices": profile["devices"],
            "traits": profile["traits"],
            "computed_traits": compute_traits(config.computed_traits, data.get("rows", []), now),
            "event_counts": profile["counts"],
            "engagement_score": score,
            "quintiles": quintiles,
            "lifecycle": lifecycle(profile, now),
            "pattern": pattern["pattern"] if pattern is not None else None,
            "affinities": [_affinity(a) for a in affinities],
        }
    )


def _affinity(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "events": [{**e, "at": from_ms(e["at"])} for e in item["events"]]}


def _set_traits(
    conn: Connection, app_id: str, user_id: str, patch: dict[str, Any], mode: Any, now: int
) -> None:
    if refused_personalization(conn, app_id, mode, [(None, user_id)]):
        raise ConsentRequired(
            "The user has not consented to personalization: no profile is kept.",
            details={"purpose": "personalization"},
        )
    key = ("user", user_id)
    stored = q.load_profiles(conn, app_id, [key]).get(key)
    if stored is None:
        profile = new_profile("user", user_id, now)
        profile["traits"] = merge_patch({}, patch)
        q.save_profiles(conn, app_id, [profile], [])
    else:
        stored["traits"] = merge_patch(stored["traits"], patch)
        stored["updated_at"] = now
        q.save_profiles(conn, app_id, [], [stored])


def _rebuild(
    conn: Connection, app_id: str, user_id: str | None, timezone: str, mode: Any, now: int
) -> tuple[int, int]:
    """Recompute profiles from raw events (one user's, or the whole app's), keeping traits."""
    folder = Folder(config_of(conn, app_id), timezone)
    if user_id is not None:
        keys = [("user", user_id)]
        old = q.load_profiles(conn, app_id, keys)
        rows = q.subject_events(conn, app_id, "user", user_id)
        q.delete_profile(conn, app_id, keys[0])
        chunks: Any = [rows]
    else:
        old = {}
        for kind in ("user", "device"):
            after: str | None = None
            while True:
                page = q.list_profiles(conn, app_id, kind, 1000, after)
                old.update({(kind, r["subject_id"]): dict(r) for r in page})
                if len(page) < 1000:
                    break
                after = page[-1]["subject_id"]
        q.delete_profiles(conn, app_id)
        chunks = _chunks(conn, app_id)
    built: dict[tuple[str, str], dict[str, Any]] = {}
    count = 0
    for rows in chunks:
        for row in sorted(rows, key=lambda r: (r["occurred_at"], r["eid"])):
            key = subject_key(row["user_id"], row["device_id"])
            if key is None:
                continue
            profile = built.get(key)
            if profile is None:
                profile = built[key] = new_profile(key[0], key[1], row["occurred_at"])
            folder.fold(profile, row, row["device_id"])
            count += 1
    pairs = {key: (None, key[1]) if key[0] == "user" else (key[1], None) for key in built}
    refused = refused_personalization(conn, app_id, mode, set(pairs.values()))
    keep = []
    for key, profile in built.items():
        if pairs[key] in refused:
            continue
        if key in old:
            profile["traits"] = old[key]["traits"]
        profile["updated_at"] = now
        keep.append(profile)
    q.save_profiles(conn, app_id, keep, [])
    return len(keep), count


def _chunks(conn: Connection, app_id: str) -> Any:
    after = 0
    while True:
        rows = q.app_events(conn, app_id, after, REBUILD_CHUNK)
        if not rows:
            return
        yield rows
        after = rows[-1]["eid"]


class Profiles:
    """Read profiles and vectors, set traits, rebuild from raw events."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def get(self, app_id: str, user_id: str, kind: str = "user") -> Profile:
        """A user's (or a device's) profile as of now."""
        engine = self._engine
        now = engine.clock.now_ms()
        data = await engine.db.read(_read_profile, app_id, kind, user_id, now, heavy=True)
        if data is None:
            raise NotFound(f"No profile for {kind} {user_id!r}.", details={f"{kind}_id": user_id})
        return to_profile(data, now)

    async def list(
        self, app_id: str, *, kind: str = "user", limit: int = 50, cursor: str | None = None
    ) -> Page[Profile]:
        """Profiles by subject id (the cursor is the last id of the previous page)."""
        check_limit(limit)
        engine = self._engine
        now = engine.clock.now_ms()
        rows = await engine.db.read(q.list_profiles, app_id, kind, limit + 1, cursor)
        config = await engine.db.read(config_of, app_id)
        items = [
            to_profile({"profile": dict(r), "config": config, "pattern": None, "ranks": None}, now)
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return Page[Profile](
            items=items, next_cursor=rows[limit - 1]["subject_id"] if more else None
        )

    async def vector(
        self, app_id: str, user_id: str, *, half_life_days: float | None = None, kind: str = "user"
    ) -> Vector:
        """The affinity vector: the stored one, or recomputed from raw events for another half-life."""
        engine = self._engine
        now = engine.clock.now_ms()
        config = await engine.db.read(config_of, app_id)
        if half_life_days is not None and not 0 < half_life_days <= 3650:
            raise InvalidInput(
                "half_life_days must be above 0 and at most 3650.",
                details={"field": "half_life_days"},
            )
        key = (kind, user_id)
        stored = (await engine.db.read(q.load_profiles, app_id, [key])).get(key)
        if stored is None:
            raise NotFound(f"No profile for {kind} {user_id!r}.", details={f"{kind}_id": user_id})
        if half_life_days is None or half_life_days == config.half_life_days:
            days = config.half_life_days
            vector, at, top = stored["vector"], stored["vector_at"], stored["top_events"]
        else:
            days = half_life_days
            config = config.model_copy(update={"half_life_days": half_life_days})
            rows = await engine.db.read(q.subject_events, app_id, kind, user_id, heavy=True)
            folder = Folder(config)
            profile = new_profile(kind, user_id, rows[0]["occurred_at"] if rows else now)
            for row in rows:
                folder.fold(profile, row, None)
            vector, at, top = profile["vector"], profile["vector_at"], profile["top_events"]
        ms = max(1, int(days * vectors.DAY_MS))
        affinities = vectors.normalised(vector, at, now, ms, top)
        return Vector.model_validate(
            {
                "subject": user_id,
                "half_life_days": days,
                "affinities": [_affinity(a) for a in affinities],
            }
        )

    async def set_traits(self, app_id: str, user_id: str, patch: dict[str, Any]) -> Profile:
        """Merge-patch the traits the app keeps on a user (creating the profile)."""
        engine = self._engine
        mode = (await engine.apps.settings(app_id)).consent_mode
        await engine.db.write(_set_traits, app_id, user_id, patch, mode, engine.clock.now_ms())
        return await self.get(app_id, user_id)

    async def rebuild(self, app_id: str, user_id: str | None = None) -> Rebuilt:
        """Recompute profiles from raw events (after a half-life or dimension change)."""
        engine = self._engine
        settings = await engine.apps.settings(app_id)
        profiles, events = await engine.db.write(
            _rebuild,
            app_id,
            user_id,
            settings.timezone,
            settings.consent_mode,
            engine.clock.now_ms(),
        )
        return Rebuilt(profiles=profiles, events=events)

    async def settings(self, app_id: str) -> PersonalizationSettings:
        return await self._engine.db.read(config_of, app_id)

    async def configure(
        self, app_id: str, config: PersonalizationSettings
    ) -> PersonalizationSettings:
        """Replace the app's personalization settings (rebuild to apply them to history)."""
        await self._engine.db.write(
            q.put_config, app_id, config.model_dump(mode="json"), self._engine.clock.now_ms()
        )
        forget_config(app_id)
        return config
