"""Paths: the steps people take after (or before) a page or event, and user journeys.

A step is a page view (its path) or, with ``steps: events``, any event (its name).
Consecutive repeats of one step (a reload) count once. Each session is followed from
its first occurrence of the anchor, up to ``depth`` steps; a session that ends sooner
goes to ``(exit)`` (``(entry)`` going backwards). At each depth the ``top`` steps keep
their name and the rest become ``(other)``, so the links draw a readable Sankey chart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sessionhub.clock import iso
from sessionhub.core.analytics.query import app_range, base_scope, segment_sources
from sessionhub.errors import InvalidInput, NotFound
from sessionhub.models.analytics import (
    Journey,
    JourneySession,
    JourneyStep,
    PathLink,
    PathNode,
    PathsIn,
    PathsResult,
)
from sessionhub.storage.analytics import reports as rq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

OTHER, EXIT, ENTRY = "(other)", "(exit)", "(entry)"


def follow(
    rows: Iterable[Sequence[Any]], pages: bool, direction: str, depth: int
) -> tuple[int, list[list[str]]]:
    """(sessions with the anchor, each one's steps from the anchor, anchor first): from rows
    (session, event name, path, is the anchor) with each session's together and in time
    order, one pass. Consecutive repeats of a step collapse into one (an anchor if any of
    them is); the session's first such anchor is where its trail starts."""
    trails: list[list[str]] = []
    forward = direction == "next"
    end = EXIT if forward else ENTRY
    current: Any = None
    runs: list[str] = []  # collapsed steps so far (backwards: up to the anchor's)
    trail: list[str] | None = None  # once the anchor was met (forwards)
    done = True
    for sid, name, path, is_anchor in rows:
        if sid != current:
            if trail is not None:
                _close(trails, trail, depth, end)
            current, runs, trail, done = sid, [], None, False
        if done:
            continue
        step = (path or "") if pages and name == "page_view" else name
        if trail is None:  # before the anchor
            if not runs or runs[-1] != step:
                runs.append(step)
            if not is_anchor:
                continue
            if forward:
                trail = []
                runs = [step]
            else:
                _close(trails, runs[-depth - 1 : -1][::-1], depth, end)
                done = True
        elif step != runs[-1]:
            runs[-1] = step
            trail.append(step)
            done = len(trail) >= depth
    if trail is not None:
        _close(trails, trail, depth, end)
    return len(trails), trails


def _close(trails: list[list[str]], trail: list[str], depth: int, end: str) -> None:
    if len(trail) < depth:
        trail.append(end)
    trails.append(trail)


def graph(
    anchor: str, trails: list[list[str]], depth: int, top: int
) -> tuple[list[PathNode], list[PathLink]]:
    """Nodes per depth (top N by sessions, the rest folded into ``(other)``) and links."""
    kept: list[set[str]] = []
    for level in range(depth):
        counts = Counter(trail[level] for trail in trails if len(trail) > level)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept.append({name for name, _ in ranked[:top]} | {EXIT, ENTRY})
    nodes: Counter[tuple[int, str]] = Counter()
    links: Counter[tuple[int, str, str]] = Counter()
    for trail in trails:
        source = anchor
        for level, name in enumerate(trail[:depth]):
            target = name if name in kept[level] else OTHER
            nodes[(level + 1, target)] += 1
            links[(level + 1, source, target)] += 1
            if target in (EXIT, ENTRY):
                break
            source = target
    return (
        [
            PathNode(depth=d, name=n, sessions=c)
            for (d, n), c in sorted(nodes.items(), key=lambda i: (i[0][0], -i[1], i[0][1]))
        ],
        [
            PathLink(depth=d, source=a, target=b, sessions=c)
            for (d, a, b), c in sorted(
                links.items(), key=lambda i: (i[0][0], -i[1], i[0][1], i[0][2])
            )
        ],
    )


async def run(engine: Engine, app_id: str, spec: PathsIn) -> PathsResult:
    settings = await engine.apps.settings(app_id)
    now = engine.clock.now_ms()
    lo, hi = await app_range(engine, app_id, spec.date_range, ZoneInfo(settings.timezone), now)
    scope = base_scope(
        app_id,
        settings,
        lo,
        hi,
        engine.db.dialect,
        filters=spec.filters,
        include_bots=spec.include_bots,
        segments=await segment_sources(engine, app_id, spec.filters),
    )
    anchor = spec.page if spec.page is not None else spec.event or ""
    pages = spec.steps == "pages"
    sessions, trails = await engine.db.read(
        rq.path_events,
        scope,
        spec.page,
        spec.event,
        pages,
        spec.direction,
        partial(follow, pages=pages, direction=spec.direction, depth=spec.depth),
        heavy=True,
    )
    nodes, links = graph(anchor, trails, spec.depth, spec.top)
    return PathsResult(
        anchor=anchor, direction=spec.direction, sessions=sessions, nodes=nodes, links=links
    )


async def journey(
    engine: Engine,
    app_id: str,
    *,
    user_id: str | None,
    session_id: str | None,
    limit: int,
) -> Journey:
    """A user's sessions (or one session) with their events, oldest first."""
    if (user_id is None) == (session_id is None):
        raise InvalidInput("Give a user_id or a session_id.", details={"field": "user_id"})
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10000.", details={"field": "limit"})
    await engine.apps.settings(app_id)
    found, steps = await engine.db.read(rq.journey, app_id, user_id, session_id, limit, heavy=True)
    if not found:
        what = {"user_id": user_id} if user_id is not None else {"session_id": session_id}
        raise NotFound(f"No sessions for {what}.", details=what)
    truncated = len(steps) > limit
    by_session: dict[int, list[JourneyStep]] = {}
    for step in steps[:limit]:
        since = step["since_prev_ms"]
        by_session.setdefault(step["session_sid"], []).append(
            JourneyStep(
                at=iso(step["occurred_at"]) or "",
                type=step["name"],
                path=step["path"],
                seconds_since_previous=since / 1000 if since is not None else None,
            )
        )
    return Journey(
        user_id=user_id if user_id is not None else found[0]["user_id"],
        sessions=[
            JourneySession(
                id=row["id"],
                kind=row["kind"],
                started_at=iso(row["started_at"]) or "",
                duration_s=row["duration_ms"] / 1000,
                entry_page=row["entry_page"],
                steps=by_session.get(row["sid"], []),
            )
            for row in found
        ],
        truncated=truncated,
    )
