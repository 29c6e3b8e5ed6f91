"""Recommendations: items the app's events reference (``product_id`` by default).

An ``ItemModel`` is built from interactions (one per event naming an item): decayed
popularity, each item's category, and item-item similarity from co-occurrence in users'
histories (cosine, each user's pairs weighted by an IDF-like 1 / log2(2 + items), so one
heavy user does not decide what is "similar"); each item keeps its strongest neighbours.
Strategies: ``popular`` (cold start), ``similar`` (people who viewed this also viewed),
``personalized`` (the user's recent items and category affinities) and ``session`` (the
items of the current session, for anonymous visitors). Each item says why it was chosen.

The model is built per app and kept in the process for ``MODEL_TTL_S`` (or until
``rebuild``); the user's and the session's own items are read fresh at every request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessionhub.core.personalization import vectors
from sessionhub.core.personalization.profiles import config_of, half_life_ms
from sessionhub.errors import InvalidInput
from sessionhub.models.personalization import (
    PersonalizationSettings,
    Recommendation,
    Recommendations,
    Strategy,
)
from sessionhub.storage import personalization as pq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

MODEL_TTL_S = 300.0
NEIGHBOURS = 50
HISTORY = 30  # the latest distinct items of a user that count
SCAN_DAYS = 365
CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class Interaction:
    user: str
    item: str
    category: str | None
    at: int
    weight: float
    session: int


def interactions_of(
    rows: Iterable[Mapping[Any, Any]], config: PersonalizationSettings
) -> list[Interaction]:
    """The interactions in event rows (those whose properties name an item)."""
    out = []
    for row in rows:
        props = row["properties"] or {}
        item = props.get(config.item_property)
        if item is None or isinstance(item, bool | dict | list):
            continue
        user = row["user_id"] or (f"d:{row['device_id']}" if row["device_id"] else None)
        if user is None:
            continue
        category = props.get(config.category_property)
        out.append(
            Interaction(
                user=user,
                item=str(item),
                category=str(category) if isinstance(category, str | int) else None,
                at=int(row["occurred_at"]),
                weight=config.weights.get(row["name"], 1.0),
                session=int(row["session_sid"]),
            )
        )
    return out


def recent_items(interactions: Sequence[Interaction], limit: int = HISTORY) -> list[str]:
    """Distinct items, the latest first."""
    seen: dict[str, int] = {}
    for it in sorted(interactions, key=lambda i: i.at, reverse=True):
        if it.item not in seen:
            seen[it.item] = it.at
            if len(seen) == limit:
                break
    return list(seen)


@dataclass
class ItemModel:
    popularity: dict[str, float] = field(default_factory=dict)
    category: dict[str, str] = field(default_factory=dict)
    neighbours: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    ranked: list[str] = field(default_factory=list)
    by_category: dict[str, list[str]] = field(default_factory=dict)
    built_at: float = 0.0

    @classmethod
    def build(cls, interactions: Sequence[Interaction], now: int, half_life: int) -> ItemModel:
        model = cls(built_at=time.monotonic())
        histories: dict[str, list[Interaction]] = {}
        for it in interactions:
            model.popularity[it.item] = model.popularity.get(it.item, 0.0) + vectors.decay(
                it.weight, now - it.at, half_life
            )
            if it.category is not None:
                model.category[it.item] = it.category
            histories.setdefault(it.user, []).append(it)
        users_of: dict[str, float] = {}
        co: dict[str, dict[str, float]] = {}
        for history in histories.values():
            items = recent_items(history)
            weight = 1 / math.log2(2 + len(items))
            for item in items:
                users_of[item] = users_of.get(item, 0.0) + weight
            for i, a in enumerate(items):
                row = co.setdefault(a, {})
                for b in items[i + 1 :]:
                    row[b] = row.get(b, 0.0) + weight
                    other = co.setdefault(b, {})
                    other[a] = other.get(a, 0.0) + weight
        for item, row in co.items():
            scored = [
                (other, together / math.sqrt(users_of[item] * users_of[other]))
                for other, together in row.items()
            ]
            scored.sort(key=lambda pair: (-pair[1], pair[0]))
            model.neighbours[item] = scored[:NEIGHBOURS]
        model.ranked = sorted(model.popularity, key=lambda i: (-model.popularity[i], i))
        for item in model.ranked:
            cat = model.category.get(item)
            if cat is not None:
                model.by_category.setdefault(cat, []).append(item)
        return model


def _finish(
    model: ItemModel,
    scores: dict[str, float],
    reasons: Callable[[str], list[str]],
    k: int,
    category: str | None,
    exclude: set[str],
) -> list[Recommendation]:
    ranked = sorted(scores, key=lambda i: (-scores[i], i))
    out = []
    for item in ranked:
        if item in exclude or (category is not None and model.category.get(item) != category):
            continue
        out.append(
            Recommendation(
                item=item,
                score=round(scores[item], 6),
                category=model.category.get(item),
                reasons=reasons(item)[:3],
            )
        )
        if len(out) == k:
            break
    return out


def popular(
    model: ItemModel, k: int, category: str | None = None, exclude: Iterable[str] = ()
) -> list[Recommendation]:
    """The most popular items (decayed), for anyone."""
    skip = set(exclude)
    pool = model.by_category.get(category, []) if category is not None else model.ranked
    scores: dict[str, float] = {}
    for item in pool:
        if item not in skip:
            scores[item] = model.popularity[item]
            if len(scores) == k:
                break
    return _finish(model, scores, lambda _: ["popular"], k, category, skip)


def from_history(
    model: ItemModel,
    history: Sequence[str],
    k: int,
    *,
    category: str | None = None,
    exclude_seen: bool = True,
    affinities: Mapping[str, float] | None = None,
) -> list[Recommendation]:
    """Items similar to ``history`` (latest first, each weighing less than the one before),
    boosted by category affinity, topped up with popular items of liked categories."""
    scores: dict[str, float] = {}
    seeds: dict[str, list[str]] = {}  # the first few seeds behind each candidate
    for rank, seed in enumerate(history[:HISTORY]):
        recency = 0.85**rank
        for other, sim in model.neighbours.get(seed, []):
            if other in scores:
                scores[other] += recency * sim
                if len(seeds[other]) < 3:
                    seeds[other].append(seed)
            else:
                scores[other] = recency * sim
                seeds[other] = [seed]
    shares = {
        dim[len("category:") :]: share
        for dim, share in (affinities or {}).items()
        if dim.startswith("category:")
    }
    liked = sorted(shares.items(), key=lambda pair: -pair[1])
    if shares:
        for item in scores:
            share = shares.get(model.category.get(item) or "")
            if share:
                scores[item] *= 1 + share

    def reasons(item: str) -> list[str]:
        said = [f"similar to {seed}" for seed in seeds[item]]
        cat = model.category.get(item)
        if cat is not None and cat in shares:
            said.insert(1, f"matches your interest in {cat}")
        return said

    exclude = set(history) if exclude_seen else set()
    top = _finish(model, scores, reasons, k, category, exclude)
    if len(top) < k:
        taken = exclude | {r.item for r in top}
        for cat, share in liked[:3]:
            if category is not None and cat != category:
                continue
            for item in model.by_category.get(cat, [])[: k * 2]:
                if item not in taken and len(top) < k:
                    taken.add(item)
                    top.append(
                        Recommendation(
                            item=item,
                            score=round(share * 1e-3, 6),
                            category=cat,
                            reasons=[f"popular in {cat}, which you like"],
                        )
                    )
        if len(top) < k:
            fill = popular(model, k - len(top), category, taken)
            top.extend(fill)
    return top


class Recommender:
    """Recommend items to a user, a session or from an item; evaluate strategies offline."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._models: dict[str, ItemModel] = {}

    async def model(self, app_id: str, *, fresh: bool = False) -> ItemModel:
        """The app's item model, built now if it is missing, stale, or ``fresh`` is asked."""
        model = self._models.get(app_id)
        if model is not None and not fresh and time.monotonic() - model.built_at < MODEL_TTL_S:
            return model
        engine = self._engine
        now = engine.clock.now_ms()
        config = await engine.db.read(config_of, app_id)
        found = await self.interactions(app_id, now - SCAN_DAYS * vectors.DAY_MS)
        model = ItemModel.build(found, now, half_life_ms(config))
        self._models[app_id] = model
        return model

    async def interactions(self, app_id: str, since: int) -> list[Interaction]:
        """Every interaction of the app since ``since``, read in chunks."""
        engine = self._engine
        config = await engine.db.read(config_of, app_id)
        out: list[Interaction] = []
        after = 0
        while True:
            rows = await engine.db.read(pq.app_events, app_id, after, CHUNK, since, heavy=True)
            out.extend(interactions_of(rows, config))
            if len(rows) < CHUNK:
                return out
            after = rows[-1]["eid"]

    async def rebuild(self, app_id: str) -> int:
        """Rebuild the app's model now; how many items it knows."""
        return len((await self.model(app_id, fresh=True)).popularity)

    async def recommend(
        self,
        app_id: str,
        *,
        strategy: Strategy | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        item_id: str | None = None,
        k: int = 10,
        category: str | None = None,
        exclude_seen: bool = True,
    ) -> Recommendations:
        """Recommendations by ``strategy`` (by default: what the given ids allow)."""
        if not 1 <= k <= 100:
            raise InvalidInput("k must be between 1 and 100.", details={"field": "k"})
        chosen: Strategy = strategy or (
            "similar"
            if item_id
            else "personalized"
            if user_id
            else "session"
            if session_id
            else "popular"
        )
        needs = {
            "similar": ("item_id", item_id),
            "personalized": ("user_id", user_id),
            "session": ("session_id", session_id),
        }
        if chosen in needs and not needs[chosen][1]:
            name = needs[chosen][0]
            raise InvalidInput(f"Strategy {chosen!r} needs {name}.", details={"field": name})
        model = await self.model(app_id)
        engine = self._engine
        if chosen == "popular":
            return Recommendations(strategy=chosen, items=popular(model, k, category))
        if chosen == "similar":
            assert item_id is not None
            items = from_history(model, [item_id], k, category=category, exclude_seen=True)
            return Recommendations(strategy=chosen, items=items)
        config = await engine.db.read(config_of, app_id)
        affinities: dict[str, float] = {}
        if chosen == "personalized":
            assert user_id is not None
            now = engine.clock.now_ms()
            rows = await engine.db.read(
                pq.recent_user_events, app_id, user_id, now - SCAN_DAYS * vectors.DAY_MS, 500
            )
            profile = (await engine.db.read(pq.load_profiles, app_id, [("user", user_id)])).get(
                ("user", user_id)
            )
            if profile is not None:
                ranked = vectors.normalised(
                    profile["vector"], profile["vector_at"], now, half_life_ms(config), None, 100
                )
                affinities = {a["dimension"]: a["score"] for a in ranked}
        else:
            assert session_id is not None
            rows = [dict(r) for r in await engine.db.read(pq.session_events, app_id, session_id)]
        history = recent_items(interactions_of(rows, config))
        items = from_history(
            model, history, k, category=category, exclude_seen=exclude_seen, affinities=affinities
        )
        return Recommendations(strategy=chosen, items=items)
