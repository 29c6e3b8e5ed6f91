"""Insights from stored work sessions: template suggestions, analytics per user and team,
and learning (skills over time, effectiveness by time of day and session length).

Definitions (docs/work.md says the same):
- a user's sessions are the ones they own; a session is *closed* once completed or
  cancelled (archiving keeps what it was);
- completion rate = completed / closed;
- estimate accuracy of a completed session with an estimate = min(actual, estimate) /
  max(actual, estimate), actual being active time; averaged over sessions;
- a session's active time is shared among its goals (the done ones; all but skipped
  when none is done) in proportion to their estimates, as progress weighs them: that
  is the time per goal category and per skill;
- time of day is the start's hour in the app's timezone; velocity is the least-squares
  slope of goals done per week over the weeks from the first to the last.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from sessionhub.core.work.access import active_ms, check_actor
from sessionhub.core.work.notify import Part
from sessionhub.core.work.templates import BUILTIN
from sessionhub.errors import Forbidden
from sessionhub.models.work import (
    Effectiveness,
    Learning,
    SkillStat,
    SkillWeek,
    Suggestions,
    TemplateSuggestion,
    WorkAnalytics,
)
from sessionhub.storage import work as wq
from sessionhub.storage import work_plan as pq

Row = Mapping[str, Any]
HOURS = (("night", 0), ("morning", 6), ("afternoon", 12), ("evening", 18))
LENGTHS = (("under 30 min", 0), ("30-90 min", 30), ("90-180 min", 90), ("over 180 min", 180))


def _history(
    conn: Connection, app_id: str, users: list[str] | None
) -> tuple[list[Any], list[Any], list[Any]]:
    sessions = wq.user_history(conn, app_id, users)
    goals, blockers = pq.history_details(conn, [s["session_sid"] for s in sessions])
    return sessions, goals, blockers


def outcome(session: Row) -> str | None:
    """completed, cancelled, or None while open (an archived one keeps its outcome)."""
    if session["completed_at"] is not None:
        return "completed"
    if session["cancelled_at"] is not None:
        return "cancelled"
    return None


def accuracy(session: Row, now: int) -> float | None:
    estimate, actual = session["estimate_s"], active_ms(session, now) / 1000
    if outcome(session) != "completed" or not estimate or actual <= 0:
        return None
    return float(min(actual, estimate) / max(actual, estimate))


def goal_shares(session: Row, goals: Sequence[Row], now: int) -> list[tuple[Row, float]]:
    """Each counted goal of a session with its share of the session's active seconds."""
    counted = [g for g in goals if g["status"] == "done"] or [
        g for g in goals if g["status"] != "skipped"
    ]
    if not counted:
        return []
    estimates = [g["estimate_s"] for g in counted if g["estimate_s"]]
    mean = sum(estimates) / len(estimates) if estimates else 1.0
    weights = [g["estimate_s"] or mean for g in counted]
    total, seconds = sum(weights), active_ms(session, now) / 1000
    return [(g, seconds * w / total) for g, w in zip(counted, weights, strict=True)]


def _by_session(goals: Sequence[Row]) -> dict[int, list[Row]]:
    grouped: dict[int, list[Row]] = defaultdict(list)
    for goal in goals:
        grouped[goal["session_sid"]].append(goal)
    return grouped


def analytics(
    sessions: Sequence[Row], goals: Sequence[Row], blockers: Sequence[Row], now: int
) -> dict[str, Any]:
    outcomes = [outcome(s) for s in sessions]
    completed, cancelled = outcomes.count("completed"), outcomes.count("cancelled")
    accuracies = [a for s in sessions if (a := accuracy(s, now)) is not None]
    active_hours = sum(active_ms(s, now) for s in sessions) / 3_600_000
    goals_done = sum(1 for g in goals if g["status"] == "done")
    by_category: dict[str, float] = defaultdict(float)
    grouped = _by_session(goals)
    for session in sessions:
        for goal, seconds in goal_shares(session, grouped[session["session_sid"]], now):
            by_category[goal["category"]] += seconds
    return {
        "sessions": len(sessions),
        "completed": completed,
        "cancelled": cancelled,
        "completion_rate": completed / (completed + cancelled) if completed + cancelled else None,
        "estimate_accuracy": statistics.fmean(accuracies) if accuracies else None,
        "goals_done": goals_done,
        "active_hours": round(active_hours, 4),
        "goals_per_active_hour": goals_done / active_hours if active_hours > 0 else None,
        "time_by_category_s": {k: round(v, 3) for k, v in sorted(by_category.items())},
        "blockers": len(blockers),
        "time_lost_s": sum(b["time_lost_ms"] or 0 for b in blockers) / 1000,
    }


def _bucket(value: float, buckets: Sequence[tuple[str, int]]) -> str:
    name = buckets[0][0]
    for label, start in buckets:
        if value >= start:
            name = label
    return name


def effectiveness(
    sessions: Sequence[Row], now: int, key: Any, buckets: Sequence[tuple[str, int]]
) -> list[Effectiveness]:
    """Completion and estimate accuracy of the closed sessions, per bucket of ``key``."""
    grouped: dict[str, list[Row]] = defaultdict(list)
    for session in sessions:
        if outcome(session) is not None and session["started_at"] is not None:
            grouped[_bucket(key(session), buckets)].append(session)
    result = []
    for label, _ in buckets:
        members = grouped.get(label)
        if not members:
            continue
        done = sum(1 for s in members if outcome(s) == "completed")
        accs = [a for s in members if (a := accuracy(s, now)) is not None]
        result.append(
            Effectiveness(
                bucket=label,
                sessions=len(members),
                completion_rate=done / len(members),
                estimate_accuracy=statistics.fmean(accs) if accs else None,
            )
        )
    return result


def _week(ms: int, zone: ZoneInfo) -> date:
    day = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def slope(values: Sequence[float]) -> float:
    """The least-squares slope of ``values`` over 0, 1, 2, …"""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return round(num / den, 4)


def skills(
    sessions: Sequence[Row], goals: Sequence[Row], now: int, zone: ZoneInfo
) -> list[SkillStat]:
    seconds: dict[str, float] = defaultdict(float)
    weekly: dict[str, dict[date, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    grouped = _by_session(goals)
    for session in sessions:
        for goal, share in goal_shares(session, grouped[session["session_sid"]], now):
            for skill in goal["skills"]:
                seconds[skill] += share
                if goal["status"] == "done" and goal["done_at"] is not None:
                    cell = weekly[skill][_week(goal["done_at"], zone)]
                    cell[0] += 1
                    cell[1] += share
    stats = []
    for skill in sorted(set(seconds) | set(weekly)):
        weeks = weekly.get(skill, {})
        series: list[SkillWeek] = []
        if weeks:
            day, last = min(weeks), max(weeks)
            while day <= last:
                done, spent = weeks.get(day, [0, 0.0])
                series.append(
                    SkillWeek(week=day.isoformat(), goals_done=int(done), active_s=round(spent, 3))
                )
                day += timedelta(days=7)
        stats.append(
            SkillStat(
                skill=skill,
                goals_done=sum(w.goals_done for w in series),
                active_s=round(seconds.get(skill, 0.0), 3),
                weeks=series,
                velocity=slope([w.goals_done for w in series]),
            )
        )
    return stats


def _hour(zone: ZoneInfo) -> Any:
    return lambda s: datetime.fromtimestamp(s["started_at"] / 1000, tz=UTC).astimezone(zone).hour


class Insights(Part):
    async def _zone(self, app_id: str) -> ZoneInfo:
        return ZoneInfo((await self._engine.apps.settings(app_id)).timezone)

    async def analytics(self, app_id: str, actor: str, users: list[str] | None) -> WorkAnalytics:
        """Analytics of the users' sessions together (every user of the app: None)."""
        check_actor(actor)
        rows = await self._db.read(_history, app_id, users, heavy=True)
        return WorkAnalytics(users=users, **analytics(*rows, self._clock.now_ms()))

    async def user_analytics(self, app_id: str, actor: str, user_id: str) -> WorkAnalytics:
        _self_only(check_actor(actor), user_id)
        return await self.analytics(app_id, actor, [user_id])

    async def learning(self, app_id: str, actor: str, user_id: str) -> Learning:
        _self_only(check_actor(actor), user_id)
        sessions, goals, _ = await self._db.read(_history, app_id, [user_id], heavy=True)
        now, zone = self._clock.now_ms(), await self._zone(app_id)
        return Learning(
            user_id=user_id,
            skills=skills(sessions, goals, now, zone),
            by_time_of_day=effectiveness(sessions, now, _hour(zone), HOURS),
            by_session_length=effectiveness(
                sessions, now, lambda s: active_ms(s, now) / 60_000, LENGTHS
            ),
        )

    async def suggestions(self, app_id: str, actor: str, user_id: str) -> Suggestions:
        """Templates ranked by how often the user finishes them, with durations calibrated by
        the user's median actual/estimate ratio, and the time of day they finish most."""
        _self_only(check_actor(actor), user_id)
        sessions, _, _ = await self._db.read(_history, app_id, [user_id], heavy=True)
        now, zone = self._clock.now_ms(), await self._zone(app_id)
        ratios = [
            active_ms(s, now) / 1000 / s["estimate_s"]
            for s in sessions
            if outcome(s) == "completed" and s["estimate_s"] and active_ms(s, now) > 0
        ]
        ratio = statistics.median(ratios) if ratios else None
        templates = {t.id: t for t in await self._engine.work.templates.list(app_id, user_id)}
        started: dict[str, int] = defaultdict(int)
        completed: dict[str, int] = defaultdict(int)
        for s in sessions:
            if s["template_id"] in templates and s["started_at"] is not None:
                started[s["template_id"]] += 1
                completed[s["template_id"]] += outcome(s) == "completed"
        items = []
        for template_id, template in templates.items():
            done, tried = completed[template_id], started[template_id]
            estimate = template.spec.estimate_s
            items.append(
                TemplateSuggestion(
                    template_id=template_id,
                    name=template.spec.name,
                    started=tried,
                    completed=done,
                    completion_rate=done / tried if tried else 0.0,
                    estimate_s=estimate,
                    suggested_duration_s=round(estimate * ratio)
                    if estimate and ratio
                    else estimate,
                    # Laplace-smoothed completion: a template tried once and finished does
                    # not outrank one finished nine times out of ten.
                    score=round((done + 1) / (tried + 2), 4),
                )
            )
        items.sort(key=lambda t: (-t.score, -t.completed, t.template_id not in BUILTIN, t.name))
        by_hour = effectiveness(sessions, now, _hour(zone), HOURS)
        best = max(by_hour, key=lambda e: (e.completion_rate, e.sessions), default=None)
        return Suggestions(
            user_id=user_id,
            median_ratio=round(ratio, 4) if ratio is not None else None,
            best_hour_bucket=best.bucket if best else None,
            items=items,
        )


def _self_only(actor: str, user_id: str) -> None:
    if actor != user_id:
        raise Forbidden(
            "Only the user themselves may read their insights.",
            code="not_this_user",
            details={"user_id": user_id, "actor": actor},
        )
