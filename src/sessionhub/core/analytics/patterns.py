"""User patterns and engagement scores, from each user's recent sessions.

Primary pattern (the first that holds, in this order):

- ``new_user``: at most ``new_user_max_sessions`` sessions, or first seen less than
  ``new_user_days`` ago;
- ``struggling_user``: the latest session had at least ``struggling_min_errors`` errors,
  or at least ``struggling_min_error_share`` of the sessions had an error;
- ``power_user``: average duration at least ``power_min_avg_duration_s`` and average
  actions per session at least ``power_min_avg_actions``;
- ``quick_checker``: average duration under ``quick_max_avg_duration_s``;
- ``regular_user``: everyone else.

Behaviours (any number): ``explorer`` (average distinct pages per session at least
``explorer_min_pages``), ``task_focused`` (at least ``task_focused_min_success_share`` of
the sessions converted or completed a workflow, with at most ``task_focused_max_pages``
pages on average), ``confused`` (at least ``confused_min_repeat_share`` of page views
revisit a page already seen in the session, or ``confused_min_abandoned`` workflows
started and not completed).

Confidence: how far past its threshold the deciding measure is (0.5 at the threshold,
1 at twice or half of it), times how much history there is (0.6 with one session, 1
from three on).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sessionhub.core.analytics.definitions import engagement_score
from sessionhub.core.session_rows import not_found
from sessionhub.errors import NotFound
from sessionhub.models.analytics import PatternCount, PatternMatch, PatternThresholds, UserPatterns
from sessionhub.storage.analytics import queries as aq
from sessionhub.storage.analytics import reports as rq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

DAY_MS = 86_400_000
USERS_PER_BATCH = 500
# Patterns describe a user's recent sessions, not their last second: recomputing them at
# most once a minute per app costs a twelfth of recomputing every active user every run.
REFRESH_EVERY_MS = 60_000


def _strength(value: float, threshold: float, *, above: bool) -> float:
    """0.5 at the threshold, rising to 1 at twice it (or at zero, for 'below' tests)."""
    if threshold <= 0:
        return 1.0
    margin = (value - threshold) / threshold if above else (threshold - value) / threshold
    return max(0.5, min(1.0, 0.5 + 0.5 * margin))


def session_score(row: dict[str, Any]) -> float:
    return engagement_score(
        row["engaged_ms"],
        row["page_views"],
        row["action_count"] + row["workflow_starts"],
        row["conversion_count"] > 0 or row["workflow_completes"] > 0,
        row["error_count"],
    )


def measure(rows: list[dict[str, Any]], first_seen: int | None, now: int) -> dict[str, float]:
    """The measures patterns are decided on, from sessions newest first."""
    n = len(rows)
    views = sum(r["page_views"] for r in rows)
    distinct = sum(r["distinct_pages"] for r in rows)
    return {
        "sessions": float(n),
        "avg_duration_s": sum(r["duration_ms"] for r in rows) / n / 1000 if n else 0.0,
        "avg_actions": sum(r["action_count"] for r in rows) / n if n else 0.0,
        "avg_pages": views / n if n else 0.0,
        "avg_distinct_pages": distinct / n if n else 0.0,
        "latest_errors": float(rows[0]["error_count"]) if n else 0.0,
        "error_share": sum(1 for r in rows if r["error_count"] > 0) / n if n else 0.0,
        "success_share": (
            sum(1 for r in rows if r["conversion_count"] > 0 or r["workflow_completes"] > 0) / n
            if n
            else 0.0
        ),
        "repeat_share": (views - distinct) / views if views else 0.0,
        "abandoned": float(
            sum(max(0, r["workflow_starts"] - r["workflow_completes"]) for r in rows)
        ),
        "days_known": (now - first_seen) / DAY_MS if first_seen is not None else 0.0,
        "engagement_score": (round(sum(session_score(r) for r in rows) / n, 2) if n else 0.0),
    }


def classify(stats: dict[str, float], t: PatternThresholds) -> tuple[str, list[PatternMatch]]:
    """(primary pattern, every pattern that fired with confidence and indicators)."""
    n = int(stats["sessions"])
    history = min(1.0, 0.4 + 0.2 * n)
    fired: list[PatternMatch] = []

    def add(kind: str, strength: float, indicators: list[str]) -> None:
        fired.append(
            PatternMatch(type=kind, confidence=round(strength * history, 2), indicators=indicators)
        )

    primary = "regular_user"
    if n <= t.new_user_max_sessions or stats["days_known"] < t.new_user_days:
        primary = "new_user"
        indicators = []
        if n <= t.new_user_max_sessions:
            indicators.append(f"sessions={n}<={t.new_user_max_sessions}")
        if stats["days_known"] < t.new_user_days:
            indicators.append(f"first_seen_days={stats['days_known']:.1f}<{t.new_user_days}")
        fired.append(PatternMatch(type=primary, confidence=1.0, indicators=indicators))
    elif (
        stats["latest_errors"] >= t.struggling_min_errors
        or stats["error_share"] >= t.struggling_min_error_share
    ):
        primary = "struggling_user"
        indicators, strengths = [], []
        if stats["latest_errors"] >= t.struggling_min_errors:
            indicators.append(
                f"latest_errors={stats['latest_errors']:.0f}>={t.struggling_min_errors:g}"
            )
            strengths.append(_strength(stats["latest_errors"], t.struggling_min_errors, above=True))
        if stats["error_share"] >= t.struggling_min_error_share:
            indicators.append(
                f"error_share={stats['error_share']:.2f}>={t.struggling_min_error_share:g}"
            )
            strengths.append(
                _strength(stats["error_share"], t.struggling_min_error_share, above=True)
            )
        add(primary, max(strengths), indicators)
    elif (
        stats["avg_duration_s"] >= t.power_min_avg_duration_s
        and stats["avg_actions"] >= t.power_min_avg_actions
    ):
        primary = "power_user"
        add(
            primary,
            min(
                _strength(stats["avg_duration_s"], t.power_min_avg_duration_s, above=True),
                _strength(stats["avg_actions"], t.power_min_avg_actions, above=True),
            ),
            [
                f"avg_duration_s={stats['avg_duration_s']:.0f}>={t.power_min_avg_duration_s:g}",
                f"avg_actions={stats['avg_actions']:.1f}>={t.power_min_avg_actions:g}",
            ],
        )
    elif stats["avg_duration_s"] < t.quick_max_avg_duration_s:
        primary = "quick_checker"
        add(
            primary,
            _strength(stats["avg_duration_s"], t.quick_max_avg_duration_s, above=False),
            [f"avg_duration_s={stats['avg_duration_s']:.0f}<{t.quick_max_avg_duration_s:g}"],
        )
    else:
        add(primary, 0.5, ["no other pattern fired"])

    if stats["avg_distinct_pages"] >= t.explorer_min_pages:
        add(
            "explorer",
            _strength(stats["avg_distinct_pages"], t.explorer_min_pages, above=True),
            [f"avg_distinct_pages={stats['avg_distinct_pages']:.1f}>={t.explorer_min_pages:g}"],
        )
    if (
        stats["success_share"] >= t.task_focused_min_success_share
        and stats["avg_pages"] <= t.task_focused_max_pages
    ):
        add(
            "task_focused",
            _strength(stats["success_share"], t.task_focused_min_success_share, above=True),
            [
                f"success_share={stats['success_share']:.2f}>={t.task_focused_min_success_share:g}",
                f"avg_pages={stats['avg_pages']:.1f}<={t.task_focused_max_pages:g}",
            ],
        )
    confused, strengths = [], []
    if stats["repeat_share"] >= t.confused_min_repeat_share and stats["avg_pages"] > 0:
        confused.append(
            f"repeat_share={stats['repeat_share']:.2f}>={t.confused_min_repeat_share:g}"
        )
        strengths.append(_strength(stats["repeat_share"], t.confused_min_repeat_share, above=True))
    if stats["abandoned"] >= t.confused_min_abandoned and t.confused_min_abandoned > 0:
        confused.append(
            f"abandoned_workflows={stats['abandoned']:.0f}>={t.confused_min_abandoned:g}"
        )
        strengths.append(_strength(stats["abandoned"], t.confused_min_abandoned, above=True))
    if confused:
        add("confused", max(strengths), confused)
    head, rest = fired[0], sorted(fired[1:], key=lambda m: (-m.confidence, m.type))
    return primary, [head, *rest]


def _patterns(
    user_id: str, rows: list[dict[str, Any]], first: int | None, now: int, t: PatternThresholds
) -> UserPatterns:
    stats = measure(rows, first, now)
    primary, fired = classify(stats, t)
    return UserPatterns(
        user_id=user_id,
        pattern=primary,
        patterns=fired,
        engagement_score=stats["engagement_score"],
        sessions=len(rows),
        stats={k: round(v, 4) for k, v in stats.items()},
    )


async def for_user(engine: Engine, app_id: str, user_id: str) -> UserPatterns:
    settings = await engine.apps.settings(app_id)
    thresholds = settings.analytics.patterns
    rows = await engine.db.read(
        rq.recent_sessions, app_id, [user_id], thresholds.recent_sessions, heavy=True
    )
    if not rows:
        raise NotFound(f"No sessions of user {user_id!r}.", details={"user_id": user_id})
    first = (await engine.db.read(rq.first_seen, app_id, [user_id])).get(user_id)
    return _patterns(user_id, rows, first, engine.clock.now_ms(), thresholds)


def _stored_rows(
    app_id: str,
    rows: list[dict[str, Any]],
    firsts: dict[str, int],
    now: int,
    thresholds: PatternThresholds,
) -> list[dict[str, Any]]:
    """The pattern rows to store for the users whose recent sessions are ``rows``."""
    by_user: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)
    saved = []
    for user_id, sessions in by_user.items():
        found = _patterns(user_id, sessions, firsts.get(user_id), now, thresholds)
        saved.append(
            {
                "app_id": app_id,
                "user_id": user_id,
                "pattern": found.pattern,
                "confidence": found.patterns[0].confidence,
                "patterns": [p.model_dump() for p in found.patterns],
                "engagement_score": found.engagement_score,
                "sessions": found.sessions,
                "computed_at": now,
            }
        )
    return saved


async def refresh(engine: Engine, app_id: str, *, everyone: bool = False) -> int:
    """Store the patterns of users active since the last refresh (or of everyone)."""
    settings = await engine.apps.settings(app_id)
    thresholds = settings.analytics.patterns
    now = engine.clock.now_ms()
    state = await engine.db.read(aq.state, app_id)
    since = None if everyone else state.get("patterns_at")
    if since is not None and now - since < REFRESH_EVERY_MS:
        return 0
    after = ""
    total = 0
    while True:
        users = await engine.db.read(
            rq.active_users, app_id, since, after, USERS_PER_BATCH, heavy=True
        )
        if not users:
            break
        rows = await engine.db.read(
            rq.recent_sessions, app_id, users, thresholds.recent_sessions, heavy=True
        )
        firsts = await engine.db.read(rq.first_seen, app_id, users, heavy=True)
        # Classifying a batch of users takes tens of milliseconds of Python: in a thread, so
        # the requests the event loop serves meanwhile are not held up.
        saved = await asyncio.to_thread(_stored_rows, app_id, rows, firsts, now, thresholds)
        await engine.db.write(rq.save_patterns, saved)
        total += len(saved)
        after = users[-1]
    await engine.db.write(aq.save_state, app_id, {"patterns_at": now})
    return total


async def refresh_all(engine: Engine) -> int:
    total = 0
    for app_id in await engine.db.read(aq.app_ids):
        total += await refresh(engine, app_id)
    return total


async def counts(engine: Engine, app_id: str) -> list[PatternCount]:
    await engine.apps.settings(app_id)
    rows = await engine.db.read(rq.pattern_counts, app_id)
    return [PatternCount(pattern=p, users=n) for p, n in rows]


async def session_score_of(engine: Engine, app_id: str, session_id: str) -> float:
    row = await engine.db.read(rq.session_counters, app_id, session_id)
    if row is None:
        raise not_found(session_id)
    return session_score(row)
