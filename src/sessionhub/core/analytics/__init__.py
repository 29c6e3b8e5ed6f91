"""Analytics: one query API for metrics and breakdowns, shortcuts, rollups and reports.

engine.analytics.query(app_id, {"metrics": ["sessions", "bounce_rate"],
                                "dimensions": ["source"], "date_range": "30d"})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sessionhub.clock import iso
from sessionhub.core.analytics import funnels, paths, patterns, retention, rollups, workflows
from sessionhub.core.analytics.query import (
    QueryRunner,
    base_scope,
    resolve_range,
    validated,
)
from sessionhub.core.pagination import check_limit, decode_cursor, encode_cursor
from sessionhub.models import Page
from sessionhub.models.analytics import (
    ActiveNow,
    AppStats,
    BounceSession,
    DailyStats,
    FunnelIn,
    FunnelResult,
    Journey,
    PathsIn,
    PathsResult,
    PatternCount,
    QueryIn,
    QueryResult,
    RetentionIn,
    RetentionResult,
    Row,
    SessionEngagement,
    UserPatterns,
    WorkflowsResult,
)
from sessionhub.storage.analytics import shortcuts as sq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

ACTIVE_WINDOW_MS = 5 * 60_000
SUMMARY_METRICS = [
    "sessions",
    "visitors",
    "users",
    "page_views",
    "views_per_session",
    "bounce_rate",
    "avg_duration",
    "error_rate",
    "conversion_rate",
    "engaged_sessions",
]


class Analytics:
    """Every analytics question about an app's sessions."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._runner = QueryRunner(engine)

    async def query(self, app_id: str, spec: QueryIn | dict[str, Any] | None = None) -> QueryResult:
        """Answer one query (a ``QueryIn`` or its JSON shape); a bad name is a 422."""
        return await self._runner.run(app_id, validated(QueryIn, spec or {}))

    # -- shortcuts -------------------------------------------------------------------------

    async def summary(self, app_id: str, date_range: Any = "30d") -> QueryResult:
        """The headline metrics of a range, compared with the period before."""
        return await self.query(
            app_id,
            {"metrics": SUMMARY_METRICS, "date_range": date_range, "compare": {"previous": True}},
        )

    async def breakdown(
        self, app_id: str, dimension: str, date_range: Any = "30d", limit: int = 100
    ) -> QueryResult:
        """Sessions, visitors and bounce rate per value of one dimension, most sessions first."""
        return await self.query(
            app_id,
            {
                "metrics": ["sessions", "visitors", "bounce_rate", "avg_duration"],
                "dimensions": [dimension],
                "date_range": date_range,
                "limit": limit,
            },
        )

    async def active_now(self, app_id: str, top: int = 10) -> ActiveNow:
        """Running sessions with activity in the last 5 minutes, and the pages they are on."""
        await self._engine.apps.settings(app_id)  # 404 for an unknown app
        now = self._engine.clock.now_ms()
        (sessions, visitors, users), pages = await self._engine.db.read(
            sq.active_now, app_id, now, now - ACTIVE_WINDOW_MS, top, heavy=True
        )
        return ActiveNow(
            sessions=sessions,
            visitors=visitors,
            users=users,
            pages=[
                Row(dimensions={"page": page}, metrics={"sessions": count}) for page, count in pages
            ],
        )

    async def app_stats(self, app_id: str) -> AppStats:
        """Every (non-bot) session of the app as it stands now: running, ended, why, how long."""
        await self._engine.apps.settings(app_id)
        now = self._engine.clock.now_ms()
        rows = await self._engine.db.read(sq.app_stats, app_id, now, heavy=True)
        total = sum(r[2] for r in rows)
        by_reason: dict[str, int] = {}
        for state, reason, count, _ in rows:
            if state == "ended":
                key = reason or "unknown"
                by_reason[key] = by_reason.get(key, 0) + count
        duration = sum(r[3] for r in rows)
        return AppStats(
            total=total,
            active=sum(r[2] for r in rows if r[0] == "active"),
            ended=sum(r[2] for r in rows if r[0] == "ended"),
            expired=by_reason.get("timeout", 0) + by_reason.get("expired", 0),
            by_reason=dict(sorted(by_reason.items())),
            avg_duration=duration / total / 1000 if total else None,
        )

    async def bounce_sessions(
        self, app_id: str, date_range: Any = "30d", *, limit: int = 50, cursor: str | None = None
    ) -> Page[BounceSession]:
        """The visits that bounced, newest first."""
        check_limit(limit)
        settings = await self._engine.apps.settings(app_id)
        now = self._engine.clock.now_ms()
        spec = validated(QueryIn, {"date_range": date_range})
        lo, hi = resolve_range(spec.date_range, ZoneInfo(settings.timezone), now, None)
        if spec.date_range == "all":
            lo = 0
        scope = base_scope(app_id, settings, lo, hi, self._engine.db.dialect)
        before = decode_cursor(cursor)
        rows = await self._engine.db.read(
            sq.bounce_sessions,
            scope,
            limit + 1,
            (before[0], before[1]) if before else None,
            heavy=True,
        )
        items = [
            BounceSession(
                id=row["id"],
                started_at=iso(row["started_at"]) or "",
                entry_page=row["entry_page"],
                duration_s=row["duration_ms"] / 1000,
                page_views=row["page_views"],
                source=row["source"],
                device_type=row["device_type"],
                country=row["country"],
            )
            for row in rows[:limit]
        ]
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = encode_cursor(last["started_at"], last["sid"]) if last is not None else None
        return Page[BounceSession](items=items, next_cursor=next_cursor)

    async def daily_stats(self, app_id: str, date_range: Any = "30d") -> list[DailyStats]:
        """One ``daily_session_stats`` row per local day: the tracking spec's summary."""
        metrics = ["sessions", "users", "avg_duration", "bounce_rate", "error_rate"]
        days = await self.query(
            app_id,
            {
                "metrics": metrics,
                "dimensions": ["time:day"],
                "date_range": date_range,
                "limit": 10_000,
            },
        )
        tops: dict[str, dict[str, str | None]] = {}
        for dimension in ("entry_page", "exit_page"):
            cursor = None
            best: dict[str, tuple[int, str]] = {}
            while True:
                page = await self.query(
                    app_id,
                    {
                        "metrics": ["sessions"],
                        "dimensions": ["time:day", dimension],
                        "date_range": date_range,
                        "limit": 10_000,
                        "cursor": cursor,
                    },
                )
                for row in page.rows:
                    day, value = row.dimensions["time:day"] or "", row.dimensions[dimension]
                    if value is None:
                        continue
                    count = int(row.metrics["sessions"] or 0)
                    held = best.get(day)
                    if held is None or count > held[0] or (count == held[0] and value < held[1]):
                        best[day] = (count, value)
                cursor = page.next_cursor
                if cursor is None:
                    break
            tops[dimension] = {day: value for day, (_, value) in best.items()}
        return [
            DailyStats(
                date=row.dimensions["time:day"] or "",
                total_sessions=int(row.metrics["sessions"] or 0),
                unique_users=int(row.metrics["users"] or 0),
                avg_duration_seconds=row.metrics["avg_duration"],
                bounce_rate=row.metrics["bounce_rate"],
                error_rate=row.metrics["error_rate"],
                most_common_entry=tops["entry_page"].get(row.dimensions["time:day"] or ""),
                most_common_exit=tops["exit_page"].get(row.dimensions["time:day"] or ""),
            )
            for row in days.rows
        ]

    # -- reports ---------------------------------------------------------------------------

    async def funnel(self, app_id: str, spec: FunnelIn | dict[str, Any]) -> FunnelResult:
        """Ordered steps: how many reached each, conversion, drop-off, time between."""
        return await funnels.run(self._engine, app_id, validated(FunnelIn, spec))

    async def paths(self, app_id: str, spec: PathsIn | dict[str, Any]) -> PathsResult:
        """The top next (or previous) steps from a page or event, to depth 5."""
        return await paths.run(self._engine, app_id, validated(PathsIn, spec))

    async def journey(
        self,
        app_id: str,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        limit: int = 500,
    ) -> Journey:
        """One user's (or session's) sessions with their steps, oldest first."""
        return await paths.journey(
            self._engine, app_id, user_id=user_id, session_id=session_id, limit=limit
        )

    async def retention(
        self, app_id: str, spec: RetentionIn | dict[str, Any] | None = None
    ) -> RetentionResult:
        """Cohorts by first-seen day or week and how many returned in each later period."""
        return await retention.run(self._engine, app_id, validated(RetentionIn, spec or {}))

    async def workflows(
        self,
        app_id: str,
        date_range: Any = "30d",
        *,
        session_id: str | None = None,
        limit: int = 100,
    ) -> WorkflowsResult:
        """Workflows started and completed, and the ones abandoned (no matching completion)."""
        return await workflows.run(
            self._engine, app_id, date_range, session_id=session_id, limit=limit
        )

    async def user_patterns(self, app_id: str, user_id: str) -> UserPatterns:
        """The user's patterns from their recent sessions, with confidence and indicators."""
        return await patterns.for_user(self._engine, app_id, user_id)

    async def pattern_counts(self, app_id: str) -> list[PatternCount]:
        """How many users the worker last put in each pattern."""
        return await patterns.counts(self._engine, app_id)

    async def session_engagement(self, app_id: str, session_id: str) -> SessionEngagement:
        """A session's engagement score, 0-100."""
        score = await patterns.session_score_of(self._engine, app_id, session_id)
        return SessionEngagement(session_id=session_id, engagement_score=score)

    async def refresh_patterns(self, app_id: str, *, everyone: bool = False) -> int:
        """Recompute the stored patterns of users active since the last run (or everyone)."""
        return await patterns.refresh(self._engine, app_id, everyone=everyone)

    async def refresh_rollups(self, app_id: str, *, full: bool = False) -> int:
        """Bring the app's daily rollups up to date now; days recomputed."""
        return await rollups.refresh(self._engine, app_id, full=full)


__all__ = ["Analytics"]
