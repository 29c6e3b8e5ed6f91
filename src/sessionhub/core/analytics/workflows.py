"""Workflows: started, completed and abandoned, from ``workflow_start``/``workflow_complete``.

A workflow is named by the event's ``properties.workflow`` (else ``workflow_id``, else
``name``, else ``(unnamed)``). A start is completed by a later completion of the same
name in the same session (first in, first out). A start left without one is
*abandoned* once its session has ended, and *in progress* while it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sessionhub import crypto
from sessionhub.clock import iso
from sessionhub.core.analytics.query import base_scope, resolve_range, validated
from sessionhub.core.session_rows import not_found
from sessionhub.models.analytics import (
    AbandonedWorkflow,
    QueryIn,
    WorkflowsResult,
    WorkflowStats,
)
from sessionhub.storage.analytics import queries as aq
from sessionhub.storage.analytics import reports as rq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


def workflow_name(properties: Any) -> str:
    if isinstance(properties, dict):
        for key in ("workflow", "workflow_id", "name"):
            value = properties.get(key)
            if isinstance(value, str | int) and str(value):
                return str(value)
    return "(unnamed)"


def match(rows: list[dict[str, Any]]) -> tuple[dict[str, list[int]], list[dict[str, Any]]]:
    """Per workflow [started, completed, abandoned], and the abandoned starts."""
    stats: dict[str, list[int]] = {}
    abandoned: list[dict[str, Any]] = []
    open_starts: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in rows:
        name = workflow_name(crypto.open_json(row["properties"], "events.properties"))
        counts = stats.setdefault(name, [0, 0, 0])
        key = (row["session_sid"], name)
        if row["name"] == "workflow_start":
            counts[0] += 1
            open_starts.setdefault(key, []).append(row)
        elif open_starts.get(key):
            counts[1] += 1
            open_starts[key].pop(0)
    for (_, name), starts in open_starts.items():
        for start in starts:
            if not start["running"]:
                stats[name][2] += 1
                abandoned.append({**start, "workflow": name})
    return stats, abandoned


async def run(
    engine: Engine, app_id: str, date_range: Any, *, session_id: str | None, limit: int
) -> WorkflowsResult:
    settings = await engine.apps.settings(app_id)
    now = engine.clock.now_ms()
    sid = None
    scope = None
    if session_id is not None:
        sid = await engine.db.read(rq.session_sid, app_id, session_id)
        if sid is None:
            raise not_found(session_id)
    else:
        spec = validated(QueryIn, {"date_range": date_range})
        first = await engine.db.read(aq.first_start, app_id) if spec.date_range == "all" else None
        lo, hi = resolve_range(spec.date_range, ZoneInfo(settings.timezone), now, first)
        scope = base_scope(app_id, settings, lo, hi, engine.db.dialect)
    rows = await engine.db.read(rq.workflow_events, scope, app_id, sid, now, heavy=True)
    stats, abandoned = match(rows)
    abandoned.sort(key=lambda row: (-row["occurred_at"], row["session_id"]))
    return WorkflowsResult(
        workflows=[
            WorkflowStats(
                workflow=name,
                started=started,
                completed=completed,
                abandoned=lost,
                abandonment_rate=lost * 100 / started if started else None,
            )
            for name, (started, completed, lost) in sorted(
                stats.items(), key=lambda item: (-item[1][0], item[0])
            )
        ],
        abandoned=[
            AbandonedWorkflow(
                session_id=row["session_id"],
                workflow=row["workflow"],
                started_at=iso(row["occurred_at"]) or "",
                user_id=row["user_id"],
            )
            for row in abandoned[:limit]
        ],
    )
