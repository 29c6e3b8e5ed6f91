"""Retention: the worker removes raw data past each app's retention, in batches; rollups stay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Connection, func, select

from sessionhub import Engine, FakeClock, Settings
from sessionhub.models import SessionCreate, SessionEnd
from sessionhub.models.memory import MessageIn
from sessionhub.storage.schema import analytics_rollups, events, messages, sessions
from sessionhub.worker import Worker

DAY_S = 86400
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
async def small_batches(settings: Settings, clock: FakeClock) -> AsyncIterator[Engine]:
    """An engine whose worker changes at most 7 rows per transaction."""
    engine = await Engine(settings.replace(worker_batch=7), clock=clock).start(migrate=False)
    try:
        yield engine
    finally:
        await engine.close()


def _counts(conn: Connection) -> tuple[int, int, int]:
    def count(table: object) -> int:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]

    return count(events), count(messages), count(sessions)


def _event_apps(conn: Connection) -> list[str]:
    return list(conn.execute(select(events.c.app_id)).scalars())


def _rolled_sessions(conn: Connection) -> int:
    r = analytics_rollups.c
    query = select(func.coalesce(func.sum(r.sessions), 0)).where(r.dimension == "")
    return int(conn.execute(query).scalar_one())


async def _a_day_of_traffic(engine: Engine, app_id: str, day: int) -> None:
    """Five visits with four events each and a conversation of two messages, all ended."""
    for i in range(5):
        session, _ = await engine.sessions.create(
            app_id, SessionCreate(device_id=f"d{day}-{i}", user_agent=BROWSER)
        )
        batch = [{"session_id": session.id, "type": "page_view", "path": f"/{n}"} for n in range(4)]
        assert 4 == (await engine.events.ingest(app_id, batch)).accepted
        await engine.sessions.end(app_id, session.id, SessionEnd(reason="logout"))
    chat, _ = await engine.sessions.create(
        app_id, SessionCreate(kind="conversation", user_id=f"u{day}")
    )
    for text in ("hello", "again"):
        await engine.memory.add(app_id, chat.id, MessageIn(role="user", content=text))
    await engine.sessions.end(app_id, chat.id, SessionEnd(reason="logout"))


async def test_storage_stops_growing_under_steady_traffic(
    small_batches: Engine, clock: FakeClock
) -> None:
    """Day after simulated day of the same traffic, the stored rows level off, and the rollups of every past day stay."""
    engine = small_batches
    app = await engine.apps.create("steady")
    await engine.apps.update(
        app.id,
        settings={
            "history_ttl_s": None,
            "retention": {"events_days": 2, "messages_days": 2, "ended_sessions_days": 3},
        },
    )
    counts = []
    for day in range(10):
        await _a_day_of_traffic(engine, app.id, day)
        clock.advance(DAY_S)
        await Worker(engine).run_once()
        counts.append(await engine.db.read(_counts))
    assert counts[4] == counts[-1]
    assert all(events <= 3 * 20 and msgs <= 3 * 2 for events, msgs, _ in counts)
    assert max(s for _, _, s in counts) <= 4 * 6
    # Every past day's rollup still counts its six sessions, though their rows are gone.
    assert 10 * 6 == await engine.db.read(_rolled_sessions)


async def test_retention_is_per_app_and_null_keeps_forever(
    engine: Engine, clock: FakeClock
) -> None:
    """An app keeping events forever keeps them; another app's retention does not touch them."""
    keeper = await engine.apps.create("keeper")
    await engine.apps.update(keeper.id, settings={"retention": {"events_days": None}})
    short = await engine.apps.create("short")
    await engine.apps.update(short.id, settings={"retention": {"events_days": 1}})
    for app_id in (keeper.id, short.id):
        session, _ = await engine.sessions.create(app_id, SessionCreate(device_id="d1"))
        await engine.events.ingest(app_id, [{"session_id": session.id, "type": "action"}])
    clock.advance(3 * DAY_S)
    result = await Worker(engine).run_once()
    assert (1, [keeper.id]) == (result["enforce_retention"], await engine.db.read(_event_apps))


async def test_retention_works_in_batches_until_nothing_is_due(
    small_batches: Engine, clock: FakeClock
) -> None:
    """More events than one batch are all removed in one worker run, seven per transaction."""
    engine = small_batches
    app = await engine.apps.create("batches")
    session, _ = await engine.sessions.create(app.id, SessionCreate(device_id="d1"))
    batch = [{"session_id": session.id, "type": "action"} for _ in range(30)]
    await engine.events.ingest(app.id, batch)
    clock.advance(31 * DAY_S)
    result = await Worker(engine).run_once()
    assert (30, 0) == (result["enforce_retention"], (await engine.db.read(_counts))[0])
