"""``sessionhub demo``: fill an app with realistic data so the dashboard has something to show.

Visits go through the same ingestion as the tracker (user agents parsed, referrers and
campaigns classified, countries as a CDN reports them), conversations through memory,
carts and preferences through their stores, consent through the consent log, and work
sessions through their lifecycle. The engine's clock is moved through the days as the
data is written, so every record carries the time it would have had.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from typing import Any

import typer

from sessionhub.clock import FakeClock, SystemClock
from sessionhub.core.engine import Engine
from sessionhub.demo_data import (
    ARRIVALS,
    CHATS,
    COUNTRIES,
    ENTRY_PAGES,
    ERRORS,
    EXPERIMENT,
    NEXT,
    PAGE_ITEMS,
    PAGES,
    PRODUCTS,
    SEGMENTS,
    SITE,
    USER_AGENTS,
    WORK_TITLES,
)
from sessionhub.enrich.client import ClientInfo
from sessionhub.errors import Conflict
from sessionhub.models import AppSettings, Identify, MessageIn, SessionCreate
from sessionhub.models.memory import CartItemIn
from sessionhub.models.personalization import ExperimentIn, SegmentIn
from sessionhub.models.privacy import ConsentIn

DAY_MS = 86_400_000
CHUNK = 12  # visits written concurrently (the writer commits them in a few batches)


@dataclass
class Visitor:
    device_id: str
    user_agent: str
    country: str
    user_id: str | None


@dataclass
class Visit:
    visitor: Visitor
    start: int
    events: list[dict[str, Any]]

    @property
    def end(self) -> int:
        return int(self.events[-1]["at"])


def _pick(rng: random.Random, weighted: list[tuple[Any, float]]) -> Any:
    return rng.choices([item for item, _ in weighted], [w for _, w in weighted])[0]


def _arrival(rng: random.Random) -> tuple[str | None, str]:
    items = [((referrer, utm), weight) for referrer, utm, weight in ARRIVALS]
    picked: tuple[str | None, str] = _pick(rng, items)
    return picked


class DemoData:
    """Generates visits, conversations, consent and work sessions for one app."""

    def __init__(self, days: int, visits_per_day: int, seed: int, now: int):
        self.rng = random.Random(seed)
        self.days = days
        self.visits_per_day = visits_per_day
        self.now = now
        self.visitors: list[Visitor] = []
        self.users = 0

    def visitor(self) -> Visitor:
        rng = self.rng
        if self.visitors and rng.random() < 0.35:
            return rng.choice(self.visitors)
        user_id = None
        if rng.random() < 0.3:
            self.users += 1
            user_id = f"customer-{self.users:04d}"
        visitor = Visitor(
            device_id=f"dev-{rng.getrandbits(64):016x}",
            user_agent=_pick(rng, USER_AGENTS),
            country=_pick(rng, COUNTRIES),
            user_id=user_id,
        )
        self.visitors.append(visitor)
        return visitor

    def day_starts(self, day: int) -> list[int]:
        """Start times of the visits of ``day`` (0: the first), busier on weekdays and afternoons."""
        rng = self.rng
        first = self.now - self.days * DAY_MS
        midnight = first - first % DAY_MS + day * DAY_MS
        weekday = (midnight // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday
        growth = 0.8 + 0.4 * day / max(1, self.days)
        factor = (0.65 if weekday >= 5 else 1.0) * growth * rng.uniform(0.85, 1.15)
        count = max(1, int(self.visits_per_day * factor))
        starts = []
        for _ in range(count):
            hour = min(23.99, max(0.0, rng.gauss(14, 4.5)))
            at = midnight + int(hour * 3_600_000) + rng.randrange(60_000)
            if at < self.now - 60_000:
                starts.append(at)
        return sorted(starts)

    def visit(self, start: int) -> Visit:
        rng = self.rng
        visitor = self.visitor()
        referrer, utm = _arrival(rng)
        path: str | None = _pick(rng, ENTRY_PAGES)
        at = start
        events: list[dict[str, Any]] = []
        first = True
        while path is not None and len(events) < 30:
            url = SITE + path + (f"?{utm}" if first and utm else "")
            event: dict[str, Any] = {
                "type": "page_view",
                "url": url,
                "title": PAGES[path],
                "at": at,
            }
            if first and referrer:
                event["referrer"] = referrer
            if path in PAGE_ITEMS:
                item, category = PAGE_ITEMS[path]
                event["properties"] = {"product_id": item, "category": category}
            events.append(event)
            first = False
            at += rng.randrange(4_000, 90_000)
            if path.startswith("/products/") and rng.random() < 0.4:
                events.append(
                    {
                        "type": "action",
                        "path": path,
                        "at": at,
                        "properties": {"button": "add_to_cart"},
                    }
                )
                at += rng.randrange(2_000, 20_000)
            if path == "/checkout":
                events.append({"type": "workflow_start", "path": path, "at": at,
                               "properties": {"workflow": "checkout"}})  # fmt: skip
            if path == "/checkout/done":
                events.append({"type": "workflow_complete", "path": path, "at": at,
                               "properties": {"workflow": "checkout"}})  # fmt: skip
                events.append({"type": "conversion", "path": path, "at": at + 1,
                               "properties": {"value": rng.choice([34.5, 89, 129, 148.9])}})  # fmt: skip
            if path == "/signup" and rng.random() < 0.5:
                events.append({"type": "signup", "path": path, "at": at})
            if rng.random() < 0.03:
                events.append({"type": "error", "path": path, "at": at,
                               "properties": {"message": rng.choice(ERRORS)}})  # fmt: skip
            path = _pick(rng, NEXT[path])
        for event in events:
            event["at"] = min(event["at"], self.now)
        return Visit(visitor, start, events)


def _iso(ms: int) -> str:
    from sessionhub.clock import iso

    return iso(ms) or ""


async def _write_visit(engine: Engine, app_id: str, visit: Visit) -> str | None:
    visitor = visit.visitor
    raw = []
    for event in visit.events:
        item = {k: v for k, v in event.items() if k != "at"}
        item["device_id"] = visitor.device_id
        item["timestamp"] = _iso(int(event["at"]))
        raw.append(item)
    client = ClientInfo(user_agent=visitor.user_agent, country=visitor.country)
    result = await engine.events.ingest(app_id, raw, client=client)
    return result.sessions[0] if result.sessions else None


async def _identify(engine: Engine, app_id: str, visitor: Visitor, session_id: str) -> None:
    """Log the visitor in (links the device to the user), as the app's server would."""
    assert visitor.user_id is not None
    login = Identify(device_id=visitor.device_id, user_id=visitor.user_id, session_id=session_id)
    await engine.sessions.identify(app_id, login)


async def _conversation(engine: Engine, app_id: str, data: DemoData, user_id: str) -> None:
    rng = data.rng
    session, _ = await engine.sessions.create(
        app_id, SessionCreate(kind="conversation", user_id=user_id)
    )
    chat = rng.choice(CHATS)
    await engine.memory.append(
        app_id,
        session.id,
        [MessageIn.model_validate({"role": role, "content": text}) for role, text in chat],
    )
    await engine.preferences.patch(
        app_id, session.id, {"language": rng.choice(["en", "de", "fr"]), "size": rng.choice("SML")}
    )
    if "cart" in chat[-1][1] or rng.random() < 0.3:
        for sku, name, price, category in rng.sample(PRODUCTS, rng.randint(1, 2)):
            item = CartItemIn(sku=sku, name=name, price=price, category=category)  # type: ignore[arg-type]
            await engine.cart.add(app_id, session.id, item)


async def _consent(engine: Engine, app_id: str, data: DemoData, visitor: Visitor) -> None:
    rng = data.rng
    purposes = {"analytics": rng.random() < 0.85, "marketing": rng.random() < 0.45}
    purposes["personalization"] = purposes["analytics"]
    await engine.consent.set(
        app_id,
        ConsentIn(device_id=visitor.device_id, user_id=visitor.user_id, purposes=purposes),  # type: ignore[arg-type]
        source="banner",
        actor="demo",
    )


async def _work(engine: Engine, app_id: str, data: DemoData) -> int:
    """Work sessions from the built-in templates in every state, some goals done, a
    collaborator and a comment each, owned by the demo's team."""
    from sessionhub.models.work import CommentCreate, GoalUpdate, WorkCreate

    rng = data.rng
    work = engine.work
    made = 0
    for index, title in enumerate(WORK_TITLES):
        owner = f"team-{index % 3 + 1}"
        templates = await work.templates.list(app_id, owner)
        spec = WorkCreate(
            template_id=templates[index % len(templates)].id if templates else None,
            name=title,
            priority=rng.choice(["low", "medium", "high", "urgent"]),
        )
        session = await work.sessions.create(app_id, owner, spec)
        teammate = f"team-{(index + 1) % 3 + 1}"
        await work.collaborators.put(app_id, owner, session.id, teammate, "collaborator")
        steps = [[], ["active"], ["active", "paused"], ["active", "completed"], ["active"]]
        for target in steps[index % len(steps)]:
            if target == "completed" or (target == "paused" and rng.random() < 0.9):
                goals = await work.goals.list(app_id, owner, session.id)
                done = goals.items if target == "completed" else goals.items[:2]
                for goal in done:
                    await work.goals.update(
                        app_id, owner, session.id, goal.id, GoalUpdate(status="done")
                    )
            session = await work.sessions.transition(app_id, owner, session.id, target)
        await work.comments.add(
            app_id, owner, session.id, CommentCreate(body=f"Kick-off notes for “{title}”.")
        )
        made += 1
    return made


async def _personalization(engine: Engine, app_id: str) -> None:
    """The demo's segments and its running experiment (kept when the demo runs again)."""
    for segment in SEGMENTS:
        await engine.personalization.segments.put(app_id, SegmentIn.model_validate(segment))
    with contextlib.suppress(Conflict):  # made by an earlier run
        await engine.personalization.experiments.create(
            app_id, ExperimentIn.model_validate(EXPERIMENT)
        )


async def _expose(engine: Engine, app_id: str, visits: list[Visit], clock: FakeClock) -> None:
    """Ask which checkout button each visitor sees, as the shop's page would on arrival."""
    clock.set(max(clock.now_ms(), min(v.start for v in visits)))
    for device in dict.fromkeys(v.visitor.device_id for v in visits):
        await engine.personalization.experiments.decide(app_id, device_id=device)


async def fill(
    engine: Engine,
    app_id: str,
    clock: FakeClock,
    *,
    days: int,
    visits_per_day: int,
    seed: int,
    progress: Any = None,
) -> dict[str, int]:
    """Write ``days`` of demo data into ``app_id``, moving ``clock`` to now as it goes."""
    now = SystemClock().now_ms()
    data = DemoData(days, visits_per_day, seed, now)
    counts = {"visits": 0, "conversations": 0, "consent": 0, "work_sessions": 0}
    task = progress.add_task("Writing demo data", total=days + 1) if progress else None
    await _personalization(engine, app_id)
    for day in range(days + 1):
        visits = [data.visit(start) for start in data.day_starts(day)]
        chatted = 0
        for i in range(0, len(visits), CHUNK):
            chunk = visits[i : i + CHUNK]
            await _expose(engine, app_id, chunk, clock)
            # Each chunk's records are stamped at its end: a few minutes apart at most.
            clock.set(max(clock.now_ms(), max(v.end for v in chunk) + 1000))
            started = await asyncio.gather(*(_write_visit(engine, app_id, v) for v in chunk))
            # One at a time: two logins of one user at once would race for the same rows.
            for visit, session_id in zip(chunk, started, strict=True):
                if visit.visitor.user_id and session_id:
                    await _identify(engine, app_id, visit.visitor, session_id)
            users = [v.visitor for v in chunk if v.visitor.user_id]
            talkers = [u for u in users if data.rng.random() < 0.15]
            if users and not talkers and i + CHUNK >= len(visits) and not chatted:
                talkers = users[:1]  # every day has a conversation, however small the site
            chatted += len(talkers)
            asked = {v.device_id: v for v in visits_sample(data, chunk)}.values()
            await asyncio.gather(
                *(_conversation(engine, app_id, data, v.user_id or "") for v in talkers),
                *(_consent(engine, app_id, data, v) for v in asked),
            )
            counts["visits"] += len(chunk)
            counts["conversations"] += len(talkers)
            counts["consent"] += len(asked)
        await engine.personalization.segments.snapshot_all()  # the worker's daily job
        if progress is not None:
            progress.advance(task)
    clock.set(max(clock.now_ms(), now))
    if hasattr(engine, "work"):
        counts["work_sessions"] = await _work(engine, app_id, data)
    await engine.analytics.refresh_rollups(app_id, full=True)
    return counts


def visits_sample(data: DemoData, visits: list[Visit]) -> list[Visitor]:
    """The visitors who answer the consent banner (about one in five)."""
    return [v.visitor for v in visits if data.rng.random() < 0.2]


async def demo_app(engine: Engine, name: str) -> tuple[str, str | None]:
    """The app called (or with the id) ``name``; created, with a secret key, when missing."""
    for app in await engine.apps.list():
        if name in (app.id, app.name):
            return app.id, None
    # Demo conversations stay readable: their history does not expire after 2 hours.
    app = await engine.apps.create(name, AppSettings(history_ttl_s=None), actor="demo")
    key = await engine.keys.issue("secret", app.id, "demo secret", actor="demo")
    return app.id, key.token


def demo_command(
    days: int = typer.Option(30, min=1, max=90, help="Days of history to write, up to today."),
    app: str = typer.Option("demo", help="The app (id or name) to fill; made when missing."),
    visits: int = typer.Option(100, min=1, max=10_000, help="Visits on an average weekday."),
    seed: int = typer.Option(1, help="Random seed: the same seed writes the same data."),
) -> None:
    """Fill an app with realistic demo data: visits, conversations, carts, consent, work."""
    from rich.progress import Progress

    from sessionhub.cli import say, state

    async def run() -> tuple[str, str | None, dict[str, int]]:
        start = SystemClock().now_ms() - (days + 1) * DAY_MS
        clock = FakeClock(start)
        engine = Engine(state.settings, clock=clock)
        await engine.start()
        try:
            app_id, token = await demo_app(engine, app)
            with Progress() as progress:
                counts = await fill(
                    engine,
                    app_id,
                    clock,
                    days=days,
                    visits_per_day=visits,
                    seed=seed,
                    progress=progress,
                )
            return app_id, token, counts
        finally:
            await engine.close()

    app_id, token, counts = asyncio.run(run())
    say(
        f"Filled app {app_id}: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    )
    if token is not None:
        say(f"  secret key    {token}")
        say("Sign in at /dashboard with it (shown once; keep it).")
