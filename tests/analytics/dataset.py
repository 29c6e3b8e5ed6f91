"""A generated dataset for the analytics tests: seeded random sessions and events, written
straight into the tables, and kept as plain Python rows for the reference answers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, text

from sessionhub import Engine
from sessionhub.models import AppSettings
from sessionhub.storage.schema import events, sessions, user_patterns

NOW = int(datetime(2026, 4, 10, 9, 30, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000
TIMEZONE = "Europe/Berlin"  # a DST change (2026-03-29) falls inside the data

PAGES = [
    "/",
    "/pricing",
    "/blog",
    "/blog/a",
    "/blog/b",
    "/docs",
    "/docs/start",
    "/signup",
    "/checkout",
    "/about",
]
SOURCES = [
    ("google", "organic", "google.com"),
    ("direct", "direct", None),
    ("newsletter", "email", None),
    ("twitter.com", "social", "twitter.com"),
    ("example.org", "referral", "example.org"),
    (None, None, None),
]
DEVICES = [
    ("desktop", "Chrome", "Windows"),
    ("mobile", "Safari", "iOS"),
    ("mobile", "Chrome", "Android"),
    ("tablet", "Safari", "iPadOS"),
    (None, None, None),
]
COUNTRIES = ["DE", "FR", "US", "GB", None]
CAMPAIGNS = ["spring", "launch", None, None]
WORKFLOWS = ["checkout", "onboarding"]


@dataclass
class Dataset:
    app_id: str
    sessions: list[dict[str, Any]] = field(default_factory=list)
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by session sid
    patterns: dict[str, str] = field(default_factory=dict)


def _events_for(rng: random.Random, start: int, duration: int) -> list[dict[str, Any]]:
    found = []
    count = rng.choice([0, 1, 1, 1, 2, 3, 4, 6, 9])
    for _ in range(count):
        at = start + (rng.randint(0, duration) if duration else 0)
        roll = rng.random()
        if roll < 0.55:
            found.append(
                {
                    "name": "page_view",
                    "occurred_at": at,
                    "path": rng.choice(PAGES),
                    "properties": {},
                }
            )
        elif roll < 0.7:
            found.append(
                {
                    "name": "action",
                    "occurred_at": at,
                    "path": None,
                    "properties": {
                        "name": rng.choice(["add_to_cart", "search"]),
                        "qty": rng.randint(1, 3),
                    },
                }
            )
        elif roll < 0.78:
            found.append(
                {
                    "name": "error",
                    "occurred_at": at,
                    "path": None,
                    "properties": {"fatal": rng.random() < 0.3},
                }
            )
        elif roll < 0.83:
            found.append(
                {
                    "name": "conversion",
                    "occurred_at": at,
                    "path": "/checkout",
                    "properties": {"plan": rng.choice(["pro", "team"])},
                }
            )
        elif roll < 0.9:
            found.append(
                {
                    "name": "workflow_start",
                    "occurred_at": at,
                    "path": None,
                    "properties": {"workflow": rng.choice(WORKFLOWS)},
                }
            )
        elif roll < 0.95:
            found.append(
                {
                    "name": "workflow_complete",
                    "occurred_at": at,
                    "path": None,
                    "properties": {"workflow": rng.choice(WORKFLOWS)},
                }
            )
        else:
            found.append({"name": "signup", "occurred_at": at, "path": "/signup", "properties": {}})
    found.sort(key=lambda event: event["occurred_at"])
    return found


def generate(app_id: str, *, seed: int = 7, count: int = 2500, days: int = 40) -> Dataset:
    """``count`` sessions over the ``days`` before NOW, with their events."""
    rng = random.Random(seed)
    data = Dataset(app_id)
    users = [f"u{i}" for i in range(250)]
    devices = [f"d{i}" for i in range(700)]
    for i in range(count):
        sid = i + 1
        start = NOW - rng.randint(0, days * DAY)
        duration = rng.choice(
            [0, 0, 2_000, 5_000, 9_999, 10_000, 30_000, 120_000, 900_000, rng.randint(0, 3_600_000)]
        )
        last = min(start + duration, NOW)
        kind = rng.choices(["visit", "conversation", "work"], [0.85, 0.1, 0.05])[0]
        source, medium, ref_domain = rng.choice(SOURCES)
        device_type, browser, os_name = rng.choice(DEVICES)
        evs = _events_for(rng, start, last - start)
        counters = {
            name: 0
            for name in (
                "page_views",
                "event_count",
                "action_count",
                "error_count",
                "conversion_count",
                "workflow_starts",
                "workflow_completes",
            )
        }
        column = {
            "page_view": "page_views",
            "action": "action_count",
            "error": "error_count",
            "conversion": "conversion_count",
            "workflow_start": "workflow_starts",
            "workflow_complete": "workflow_completes",
        }
        for event in evs:
            counters["event_count"] += 1
            if event["name"] in column:
                counters[column[event["name"]]] += 1
        views = [event["path"] for event in evs if event["name"] == "page_view"]
        running = last > NOW - 20 * 60_000 and rng.random() < 0.7
        row = {
            "sid": sid,
            "app_id": app_id,
            "id": f"s{sid}",
            "kind": kind,
            "status": "active" if running else "ended",
            "end_reason": None if running else rng.choice(["logout", "timeout", "expired"]),
            "user_id": rng.choice(users) if rng.random() < 0.6 else None,
            "device_id": rng.choice(devices) if rng.random() < 0.9 else None,
            "started_at": start,
            "last_activity_at": last,
            "ended_at": None if running else last,
            "idle_timeout_ms": 1_800_000,
            "idle_expires_at": last + 1_800_000,
            "idle_check_at": last + 1_800_000,
            "expires_at": start + DAY,
            "meta": {},
            "device_type": device_type,
            "browser": browser,
            "os": os_name,
            "entry_page": views[0] if views else rng.choice([None, "/landing"]),
            "exit_page": views[-1] if views else None,
            "utm_campaign": rng.choice(CAMPAIGNS),
            "utm_source": source if rng.random() < 0.3 else None,
            "is_bot": rng.random() < 0.05,
            "country": rng.choice(COUNTRIES),
            "source": source,
            "medium": medium,
            "referrer_domain": ref_domain,
            "engaged_ms": min(last - start, rng.randint(0, 600_000)),
            "deleted_at": NOW - DAY if rng.random() < 0.02 else None,
            **counters,
        }
        data.sessions.append(row)
        data.events[sid] = evs
    for user in users:
        if rng.random() < 0.7:
            data.patterns[user] = rng.choice(["new_user", "power_user", "regular_user"])
    return data


def _write(conn: Connection, data: Dataset) -> None:
    conn.execute(insert(sessions), data.sessions)
    if conn.dialect.name == "postgresql":  # explicit sids: move the sequence past them
        conn.execute(text("SELECT setval(pg_get_serial_sequence('sessions', 'sid'), 1000000)"))
    rows = []
    eid = 0
    for sid, evs in data.events.items():
        for event in evs:
            eid += 1
            rows.append(
                {
                    "app_id": data.app_id,
                    "session_sid": sid,
                    "id": f"e{eid}",
                    "received_at": event["occurred_at"],
                    "url": None,
                    "title": None,
                    "referrer": None,
                    "since_prev_ms": None,
                    **event,
                }
            )
    for start in range(0, len(rows), 2000):
        conn.execute(insert(events), rows[start : start + 2000])
    conn.execute(
        insert(user_patterns),
        [
            {
                "app_id": data.app_id,
                "user_id": user,
                "pattern": pattern,
                "confidence": 1.0,
                "patterns": [],
                "engagement_score": 0.0,
                "sessions": 1,
                "computed_at": NOW,
            }
            for user, pattern in data.patterns.items()
        ],
    )
    if conn.dialect.name == "postgresql":  # plan with statistics, as autovacuum would give
        conn.execute(text("ANALYZE sessions, events, user_patterns"))


async def load(engine: Engine, **options: Any) -> Dataset:
    """Create an app in Berlin time and fill it with a generated dataset."""
    app = await engine.apps.create("analytics", AppSettings(timezone=TIMEZONE))
    data = generate(app.id, **options)
    await engine.db.write(_write, data)
    return data
