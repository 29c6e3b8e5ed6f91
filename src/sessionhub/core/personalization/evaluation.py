"""Offline evaluation of recommendation strategies: hit rate and NDCG at k, leave-last-out.

For each user with at least two distinct items, the last item they interacted with is
held out (every interaction with it); the model is built from everything else, and each
strategy recommends k items from what is left of the user's history. A hit is the held-out
item among the k; NDCG credits it by rank (1 / log2(rank + 1), one relevant item).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence

from sessionhub.core.personalization.recommend import (
    Interaction,
    ItemModel,
    from_history,
    popular,
    recent_items,
)
from sessionhub.models.personalization import Evaluation, Recommendation

STRATEGIES = ("popular", "similar", "personalized", "session")


def _order(user: str) -> bytes:
    return hashlib.blake2b(user.encode(), digest_size=8).digest()


def split(
    interactions: Sequence[Interaction], max_users: int
) -> tuple[list[Interaction], dict[str, tuple[Interaction, list[Interaction]]]]:
    """(training interactions, user -> (held-out interaction, the user's training history))."""
    by_user: dict[str, list[Interaction]] = {}
    for it in interactions:
        by_user.setdefault(it.user, []).append(it)
    eligible = sorted((u for u, h in by_user.items() if len({i.item for i in h}) >= 2), key=_order)[
        :max_users
    ]
    held: dict[str, tuple[Interaction, list[Interaction]]] = {}
    for user in eligible:
        history = sorted(by_user[user], key=lambda i: i.at)
        last = history[-1]
        held[user] = (last, [i for i in history if i.item != last.item])
    train = [it for it in interactions if it.user not in held or it.item != held[it.user][0].item]
    return train, held


def recommend_for(
    strategy: str, model: ItemModel, held: Interaction, history: list[Interaction], k: int
) -> list[Recommendation]:
    items = recent_items(history)
    if strategy == "popular":
        return popular(model, k, exclude=items)
    if strategy == "similar":
        return from_history(model, items[:1], k)
    if strategy == "session":
        same = [i for i in history if i.session == held.session]
        return from_history(model, recent_items(same), k)
    categories = Counter(i.category for i in history if i.category is not None)
    total = sum(categories.values())
    affinities = {f"category:{c}": n / total for c, n in categories.items()} if total else {}
    return from_history(model, items, k, affinities=affinities)


def evaluate(
    interactions: Sequence[Interaction],
    *,
    k: int = 10,
    now: int,
    half_life_ms: int,
    max_users: int = 1000,
    strategies: Sequence[str] = STRATEGIES,
) -> Evaluation:
    """Hit rate and NDCG at ``k`` of each strategy, leave-last-out."""
    train, held = split(interactions, max_users)
    model = ItemModel.build(train, now, half_life_ms)
    hits = dict.fromkeys(strategies, 0.0)
    gains = dict.fromkeys(strategies, 0.0)
    for last, history in held.values():
        for strategy in strategies:
            ranked = [r.item for r in recommend_for(strategy, model, last, history, k)]
            if last.item in ranked:
                hits[strategy] += 1
                gains[strategy] += 1 / math.log2(ranked.index(last.item) + 2)
    users = len(held)
    return Evaluation(
        k=k,
        users=users,
        hit_rate={s: round(hits[s] / users, 4) if users else 0.0 for s in strategies},
        ndcg={s: round(gains[s] / users, 4) if users else 0.0 for s in strategies},
    )
