"""Affinity vectors: decayed, normalised interest per category, tag or page section.

A vector is ``{dimension: score}`` as of a reference time ``at``; a score is the sum of
its events' weights, each halved every half-life since it happened. Adding an event only
decays the stored scores to the event's time and adds its weight, so vectors update as
events arrive, without rescanning history. The same fold over raw events rebuilds them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

DAY_MS = 86_400_000
MAX_DIMENSIONS = 200  # per profile: the weakest go first
TOP_EVENTS = 3  # the latest events kept per dimension, to say why it scores
DEFAULT_WEIGHTS = {"page_view": 1.0, "action": 2.0, "conversion": 5.0}


# Scores as of a reference time grow by half-lives of later events: at most 2**32 before
# they move to a later reference time (floats keep their precision at any scale).
RESCALE_HALF_LIVES = 32


def decay(score: float, elapsed_ms: int, half_life_ms: int) -> float:
    """``score`` after ``elapsed_ms`` (halved every ``half_life_ms``)."""
    if elapsed_ms <= 0:
        return score
    return score * math.pow(0.5, elapsed_ms / half_life_ms)


def section_of(path: str | None) -> str | None:
    """The page section of a path: its first segment (``/blog/x`` → ``blog``)."""
    if not path:
        return None
    first = path.split("?", 1)[0].strip("/").split("/", 1)[0]
    return first[:100] or None


def dimensions_of(
    name: str, path: str | None, properties: Mapping[str, Any], sources: Iterable[str]
) -> list[str]:
    """The dimensions an event speaks for: ``source:value`` per configured property."""
    found: list[str] = []
    for source in sources:
        value: Any = section_of(path) if source == "section" else properties.get(source)
        if value is None:
            continue
        if type(value) is str:
            if value:
                found.append(f"{source}:{value[:100]}")
            continue
        for item in (value if type(value) is list else [value])[:20]:
            if (type(item) is str and item) or type(item) is int:
                found.append(f"{source}:{str(item)[:100]}")
    return found


def add_event(
    vector: dict[str, float],
    at: int,
    top: dict[str, list[dict[str, Any]]],
    event: Mapping[str, Any],
    dims: list[str],
    weight: float,
    half_life_ms: int,
) -> int:
    """Fold one event into ``vector`` (scores as of ``at``); return the new reference time.

    A later event's gain is stated as of ``at`` too (grown rather than the rest decayed), so
    an event costs its own dimensions only; the scores move to a later reference time only
    once they would grow past 2**RESCALE_HALF_LIVES.
    """
    when = int(event["occurred_at"])
    if when - at > RESCALE_HALF_LIVES * half_life_ms:
        factor = math.pow(0.5, (when - at) / half_life_ms)
        for key in vector:
            vector[key] *= factor
        at = when
    gain = weight * math.pow(2.0, (when - at) / half_life_ms) if when != at else weight
    item = {"id": event["id"], "type": event["name"], "at": when, "weight": weight}
    for dim in dims:
        vector[dim] = vector.get(dim, 0.0) + gain
        kept = top.get(dim)
        if kept is None:
            top[dim] = [item]
            continue
        # Oldest first; events mostly arrive in time order, so this is an append.
        if when >= kept[-1]["at"]:
            kept.append(item)
        else:
            kept.append(item)
            kept.sort(key=lambda i: i["at"])
        if len(kept) > TOP_EVENTS:
            del kept[0]
    return at


def prune(vector: dict[str, float], top: dict[str, list[dict[str, Any]]]) -> None:
    """Keep the strongest dimensions only, so a profile's vector stays small."""
    if len(vector) <= MAX_DIMENSIONS:
        return
    keep = sorted(vector, key=vector.__getitem__, reverse=True)[:MAX_DIMENSIONS]
    kept = set(keep)
    for key in [k for k in vector if k not in kept]:
        del vector[key]
        top.pop(key, None)


def merge(
    a: dict[str, float], a_at: int, b: dict[str, float], b_at: int, half_life_ms: int
) -> tuple[dict[str, float], int]:
    """Two vectors as one, both decayed to the later reference time."""
    at = max(a_at, b_at)
    merged = {k: decay(v, at - a_at, half_life_ms) for k, v in a.items()}
    for key, value in b.items():
        merged[key] = merged.get(key, 0.0) + decay(value, at - b_at, half_life_ms)
    return merged, at


def normalised(
    vector: Mapping[str, float],
    at: int,
    now: int,
    half_life_ms: int,
    top: Mapping[str, list[dict[str, Any]]] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The vector decayed to ``now``: dimensions by share of the total (summing to 1), the
    strongest first, each with the events that contributed most."""
    scores = {k: decay(v, now - at, half_life_ms) for k, v in vector.items()}
    total = sum(scores.values())
    if total <= 0:
        return []
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
    out = []
    for key, score in ranked:
        events = [
            {**item, "contribution": decay(float(item["weight"]), now - item["at"], half_life_ms)}
            for item in (top or {}).get(key, [])
        ]
        events.sort(key=lambda item: -item["contribution"])
        out.append({"dimension": key, "score": score / total, "raw": score, "events": events})
    return out
