"""Reference answers, computed the plain way: Python loops over the generated rows.

Nothing here is shared with the engine's code: ranges, local days, filters, bounces and
medians are worked out again from their definitions in docs/analytics.md.
"""

from __future__ import annotations

import re
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.analytics.dataset import Dataset

INTERACTIVE = ("action_count", "conversion_count", "workflow_starts", "workflow_completes")
COLUMN = {"campaign": "utm_campaign"}


def local(ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone)


def midnight(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def date_range(name: Any, now: int, zone: ZoneInfo) -> tuple[int, int]:
    today = local(now, zone).date()
    if isinstance(name, dict):

        def point(text: str, end: bool) -> int:
            if len(text) == 10:
                day = date.fromisoformat(text)
                return midnight(day + timedelta(days=1) if end else day, zone)
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)

        return point(name["from"], False), point(name["to"], True)
    starts = {
        "today": midnight(today, zone),
        "24h": now - 86_400_000,
        "7d": midnight(today - timedelta(days=6), zone),
        "30d": midnight(today - timedelta(days=29), zone),
        "month": midnight(today.replace(day=1), zone),
        "12mo": midnight(
            date(today.year - (1 if today.month < 12 else 0), (today.month % 12) + 1, 1), zone
        ),
        "all": 0,
    }
    return starts[name], now + 1


def label(dimension: str, ms: int, zone: ZoneInfo) -> str:
    moment = local(ms, zone)
    if dimension == "time:hour":
        return moment.strftime("%Y-%m-%dT%H:00")
    if dimension == "time:day":
        return moment.date().isoformat()
    if dimension == "time:week":
        return (moment.date() - timedelta(days=moment.weekday())).isoformat()
    return moment.strftime("%Y-%m")


def as_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test(value: str | None, op: str, target: Any) -> bool:
    targets = target if isinstance(target, list) else [target]
    if op in ("is", "is_not"):
        hit = any(value == t for t in targets)
        return hit if op == "is" else not hit
    if value is None:
        return False
    if op == "contains":
        return any(t in value for t in targets)
    return any(re.search(t, value) is not None for t in targets)


def session_value(data: Dataset, session: dict[str, Any], dimension: str) -> Any:
    if dimension == "user_pattern":
        return data.patterns.get(session["user_id"]) if session["user_id"] else None
    return session[COLUMN.get(dimension, dimension)]


def event_field(event: dict[str, Any], name: str) -> str | None:
    if name.startswith("properties."):
        return as_text(event["properties"].get(name.split(".", 1)[1]))
    return event.get(name)


def event_meets(event: dict[str, Any], condition: dict[str, Any]) -> bool:
    op = condition.get("op", "is")
    if condition["dimension"] == "page":
        return event["name"] == "page_view" and test(event["path"], op, condition["value"])
    return test(event["name"], op, condition["value"])


def holds(data: Dataset, session: dict[str, Any], node: dict[str, Any]) -> bool:
    if "and" in node:
        return all(holds(data, session, child) for child in node["and"])
    if "or" in node:
        return any(holds(data, session, child) for child in node["or"])
    if "not" in node:
        return not holds(data, session, node["not"])
    evs = data.events[session["sid"]]
    if "did" in node:
        did = node["did"]
        return any(
            event["name"] == did["event"]
            and all(
                test(event_field(event, c["field"]), c.get("op", "is"), c["value"])
                for c in did.get("where", [])
            )
            for event in evs
        )
    if node["dimension"] in ("page", "event"):
        return any(event_meets(event, node) for event in evs)
    return test(
        session_value(data, session, node["dimension"]), node.get("op", "is"), node["value"]
    )


def duration(session: dict[str, Any]) -> int:
    return int(session["last_activity_at"] - session["started_at"])


def engaged(session: dict[str, Any], threshold_ms: int) -> bool:
    return (
        session["page_views"] > 1
        or any(session[c] > 0 for c in INTERACTIVE)
        or duration(session) >= threshold_ms
    )


def visitor(session: dict[str, Any]) -> str:
    if session["device_id"] is not None:
        return "d:" + session["device_id"]
    if session["user_id"] is not None:
        return "u:" + session["user_id"]
    return f"s:{session['sid']}"


def metrics_of(
    data: Dataset,
    units: list[tuple[dict[str, Any], int, int]],
    names: list[str],
    threshold_ms: int,
    conversions: tuple[str, ...],
) -> dict[str, Any]:
    """Metrics of (session, page views, events) units."""
    n = len(units)
    sessions = [u[0] for u in units]

    def converted(s: dict[str, Any]) -> bool:
        return s["conversion_count"] > 0 or any(
            e["name"] in conversions for e in data.events[s["sid"]]
        )

    values: dict[str, Any] = {
        "sessions": n,
        "visitors": len({visitor(s) for s in sessions}),
        "users": len({s["user_id"] for s in sessions if s["user_id"] is not None}),
        "page_views": sum(u[1] for u in units),
        "events": sum(u[2] for u in units),
        "views_per_session": sum(u[1] for u in units) / n if n else None,
        "actions_per_session": sum(s["action_count"] for s in sessions) / n if n else None,
        "bounce_rate": (
            sum(1 for s in sessions if s["kind"] == "visit" and not engaged(s, threshold_ms))
            * 100
            / n
            if n
            else None
        ),
        "avg_duration": sum(duration(s) for s in sessions) / n / 1000 if n else None,
        "median_duration": (
            statistics.median([bucket_middle(duration(s)) for s in sessions]) / 1000 if n else None
        ),
        "error_rate": sum(1 for s in sessions if s["error_count"] > 0) * 100 / n if n else None,
        "conversion_rate": sum(1 for s in sessions if converted(s)) * 100 / n if n else None,
        "engaged_sessions": sum(1 for s in sessions if engaged(s, threshold_ms)),
    }
    return {name: values[name] for name in names}


def bucket_middle(ms: int) -> float:
    """Where a duration is read for medians: exact below 256 ms; above, the middle of the
    whole milliseconds of its 1/128-of-a-doubling slice (docs/analytics.md)."""
    if ms < 256:
        return float(max(ms, 0))
    width = 2 ** (ms.bit_length() - 8)
    start = ms - ms % width
    return start + (width - 1) / 2


def row_conditions(filters: list[dict[str, Any]], dimension: str) -> list[dict[str, Any]]:
    found = []
    for node in filters:
        if node.get("dimension") == dimension:
            found.append(node)
        elif "and" in node:
            found.extend(row_conditions(node["and"], dimension))
    return found


def answer(
    data: Dataset,
    spec: dict[str, Any],
    now: int,
    zone: ZoneInfo,
    *,
    threshold_ms: int = 10_000,
) -> tuple[dict[str, Any], dict[tuple[Any, ...], dict[str, Any]]]:
    """(totals, rows by dimension labels) of a query spec, by brute force."""
    lo, hi = date_range(spec.get("date_range", "30d"), now, zone)
    filters = spec.get("filters", [])
    dimensions = spec.get("dimensions", [])
    metrics = spec["metrics"]
    conversions = tuple(spec.get("conversion_events") or ())
    every_kind = "kind" in dimensions or _mentions(filters, "kind")
    chosen = [
        s
        for s in data.sessions
        if s["deleted_at"] is None
        and lo <= s["started_at"] < hi
        and (every_kind or s["kind"] == "visit")
        and (spec.get("include_bots") or not s["is_bot"])
        and all(holds(data, s, f) for f in filters)
    ]
    totals = metrics_of(
        data,
        [(s, s["page_views"], s["event_count"]) for s in chosen],
        metrics,
        threshold_ms,
        conversions,
    )
    groups: dict[tuple[Any, ...], list[tuple[dict[str, Any], int, int]]] = {}
    event_dim = next((d for d in dimensions if d in ("page", "event")), None)
    for s in chosen:

        def key_with(value: Any, s: dict[str, Any] = s) -> tuple[Any, ...]:
            key = []
            for d in dimensions:
                if d.startswith("time:"):
                    key.append(label(d, s["started_at"], zone))
                elif d == event_dim:
                    key.append(value)
                else:
                    key.append(session_value(data, s, d))
            return tuple(key)

        if event_dim is None:
            groups.setdefault(key_with(None), []).append((s, s["page_views"], s["event_count"]))
            continue
        restrict = row_conditions(filters, event_dim)
        per_value: dict[Any, list[int]] = {}
        for event in data.events[s["sid"]]:
            if event_dim == "page" and event["name"] != "page_view":
                continue
            if not all(event_meets(event, c) for c in restrict):
                continue
            value = event["path"] if event_dim == "page" else event["name"]
            counts = per_value.setdefault(value, [0, 0])
            counts[0] += event["name"] == "page_view"
            counts[1] += 1
        for value, (views, count) in per_value.items():
            groups.setdefault(key_with(value), []).append((s, views, count))
    rows = (
        {
            key: metrics_of(data, units, metrics, threshold_ms, conversions)
            for key, units in groups.items()
        }
        if dimensions
        else {}
    )
    return totals, rows


def _mentions(filters: list[dict[str, Any]], dimension: str) -> bool:
    for node in filters:
        if node.get("dimension") == dimension:
            return True
        for key in ("and", "or"):
            if key in node and _mentions(node[key], dimension):
                return True
        if "not" in node and _mentions([node["not"]], dimension):
            return True
    return False
