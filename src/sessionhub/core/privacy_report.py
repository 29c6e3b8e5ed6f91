"""The privacy report: what a privacy officer is asked about one app, in one answer.

Subjects with stored data, consent rates per purpose, do-not-sell opt-outs, the
data-subject requests served (how many, how long they took) and where retention stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionhub.clock import from_ms
from sessionhub.core.consent import DO_NOT_SELL
from sessionhub.core.retention import cutoffs
from sessionhub.models.privacy import (
    PURPOSES,
    PrivacyReport,
    PurposeRate,
    RequestStats,
    RetentionStatus,
)
from sessionhub.storage import privacy as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


class PrivacyReports:
    """Build the privacy report of an app."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def report(self, app_id: str) -> PrivacyReport:
        engine = self._engine
        settings = await engine.apps.settings(app_id)
        now = engine.clock.now_ms()
        db = engine.db
        subjects = await db.read(q.subject_counts, app_id, heavy=True)
        counts = await db.read(q.consent_counts, app_id)
        consent = {}
        for purpose in PURPOSES:
            granted = counts.get((purpose, True), 0)
            refused = counts.get((purpose, False), 0)
            answered = granted + refused
            consent[purpose] = PurposeRate(
                granted=granted,
                refused=refused,
                rate=round(granted / answered, 4) if answered else None,
            )
        stats = await db.read(q.request_stats, app_id)
        requests = {}
        for kind in ("export", "erase"):
            count, mean, longest, last = stats.get(kind, (0, None, None, None))
            requests[kind] = RequestStats(
                count=count,
                mean_ms=round(mean, 1) if mean is not None else None,
                max_ms=int(longest) if longest is not None else None,
                last_at=from_ms(int(last)) if last is not None else None,
            )
        due = cutoffs(settings, now)
        status = await db.read(q.retention_status, app_id, due, heavy=True)
        days = settings.retention
        configured = {
            "events": days.events_days,
            "messages": days.messages_days,
            "ended_sessions": days.ended_sessions_days,
        }
        retention = {
            kind: RetentionStatus(
                days=configured[kind],
                oldest=from_ms(int(oldest)) if oldest is not None else None,
                overdue=overdue,
            )
            for kind, (oldest, overdue) in status.items()
        }
        return PrivacyReport(
            generated_at=from_ms(now),
            consent_mode=settings.consent_mode,
            honor_dnt=settings.honor_dnt,
            subjects=subjects,
            consent=consent,
            do_not_sell=counts.get((DO_NOT_SELL, True), 0),
            requests=requests,
            retention=retention,
        )
