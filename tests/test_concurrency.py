"""Rules that must hold when many writes race: the per-user session limit, get-or-create, ending.

On PostgreSQL the writer runs several writer tasks, each committing its own batches, so
``asyncio.gather`` of many writes really does run them in concurrent transactions.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, func, select

from sessionhub import Engine, FakeClock, SessionEnded, SessionLimitReached
from sessionhub.models import Session, SessionCreate, SessionFilter
from sessionhub.storage.schema import sessions
from tests.conftest import Keys

PARALLEL = 24


async def limit_sessions(engine: Engine, app_id: str, limit: int, behaviour: str) -> None:
    await engine.apps.update(
        app_id, settings={"max_sessions_per_user": limit, "session_limit_behaviour": behaviour}
    )


async def running_of(engine: Engine, app_id: str, user_id: str) -> list[Session]:
    page = await engine.sessions.list(
        app_id, filters=_filter(status="active", user_id=user_id), limit=500
    )
    return page.items


def _filter(**values: str) -> SessionFilter:
    return SessionFilter.model_validate(values)


async def test_deny_refuses_creates_over_the_limit(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """With deny, a user at the limit gets 409 session_limit_reached until one of theirs ends."""
    await limit_sessions(engine, keys.app_id, 2, "deny")
    first, _ = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    with pytest.raises(SessionLimitReached) as refused:
        await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    assert {"user_id": "u1", "limit": 2} == refused.value.details
    other, _ = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u2"))
    assert "active" == other.status
    await engine.sessions.end(keys.app_id, first.id)
    again, created = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    assert (True, "active") == (created, again.status)


async def test_sessions_past_their_idle_limit_do_not_count(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A session that has idled out no longer counts toward the limit, even before the worker ran."""
    await limit_sessions(engine, keys.app_id, 1, "deny")
    await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    clock.advance(1801)
    fresh, created = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    assert created is True
    assert [fresh.id] == [s.id for s in await running_of(engine, keys.app_id, "u1")]


async def test_evict_oldest_ends_the_oldest_session_to_make_room(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """With evict_oldest, the new session starts and the user's oldest running one ends."""
    await limit_sessions(engine, keys.app_id, 2, "evict_oldest")
    oldest, _ = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    clock.advance(1)
    middle, _ = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    clock.advance(1)
    newest, _ = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    evicted = await engine.sessions.get(keys.app_id, oldest.id)
    assert ("ended", "evicted") == (evicted.status, evicted.end_reason)
    running = {s.id for s in await running_of(engine, keys.app_id, "u1")}
    assert {middle.id, newest.id} == running


@pytest.mark.parametrize("limit", [1, 3])
async def test_deny_holds_under_parallel_creates(engine: Engine, keys: Keys, limit: int) -> None:
    """Many creates for one user at once: exactly ``limit`` succeed, the rest are refused."""
    await limit_sessions(engine, keys.app_id, limit, "deny")
    results = await asyncio.gather(
        *(
            engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
            for _ in range(PARALLEL)
        ),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, SessionLimitReached)]
    assert (limit, PARALLEL - limit) == (len(created), len(refused))
    assert limit == len(await running_of(engine, keys.app_id, "u1"))
    assert limit == await engine.db.read(_rows_of, keys.app_id, "u1")


@pytest.mark.parametrize("limit", [1, 3])
async def test_evict_oldest_holds_under_parallel_creates(
    engine: Engine, keys: Keys, limit: int
) -> None:
    """Many creates for one user at once all succeed, and afterwards exactly ``limit`` are running."""
    await limit_sessions(engine, keys.app_id, limit, "evict_oldest")
    results = await asyncio.gather(
        *(
            engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
            for _ in range(PARALLEL)
        ),
        return_exceptions=True,
    )
    assert [] == [r for r in results if not isinstance(r, tuple)]
    running = await running_of(engine, keys.app_id, "u1")
    assert limit == len(running)
    page = await engine.sessions.list(keys.app_id, filters=_filter(status="ended"), limit=500)
    assert PARALLEL - limit == len(page.items)
    assert {"evicted"} == {s.end_reason for s in page.items}


async def test_parallel_limits_of_different_users_do_not_interfere(
    engine: Engine, keys: Keys
) -> None:
    """Racing creates of several users each stop at that user's own limit."""
    await limit_sessions(engine, keys.app_id, 2, "deny")
    users = [f"u{i}" for i in range(4)]
    await asyncio.gather(
        *(
            engine.sessions.create(keys.app_id, SessionCreate(user_id=user))
            for user in users
            for _ in range(6)
        ),
        return_exceptions=True,
    )
    counts = [len(await running_of(engine, keys.app_id, user)) for user in users]
    assert [2, 2, 2, 2] == counts


async def test_parallel_get_or_create_of_one_id_creates_it_once(engine: Engine, keys: Keys) -> None:
    """Many creates with the same caller-chosen id at once make one session; all get it back."""
    results = await asyncio.gather(
        *(
            engine.sessions.create(keys.app_id, SessionCreate(id="chat-1", user_id="u1"))
            for _ in range(PARALLEL)
        )
    )
    assert [True] == [created for _, created in results if created]
    assert {"chat-1"} == {session.id for session, _ in results}
    assert {results[0][0].started_at} == {session.started_at for session, _ in results}
    assert 1 == await engine.db.read(_rows_of, keys.app_id, "u1")


async def test_a_session_ended_while_heartbeats_race_stays_ended(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Heartbeats racing an end either land before it or get session_ended; the session ends once."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    clock.advance(10)
    beats = [engine.sessions.heartbeat(keys.app_id, session.id) for _ in range(PARALLEL)]
    results = await asyncio.gather(
        *beats[:12],
        engine.sessions.end(keys.app_id, session.id),
        *beats[12:],
        return_exceptions=True,
    )
    assert [] == [r for r in results if not isinstance(r, Session | SessionEnded)]
    ended = await engine.sessions.get(keys.app_id, session.id)
    assert ("ended", "logout") == (ended.status, ended.end_reason)
    with pytest.raises(SessionEnded):
        await engine.sessions.heartbeat(keys.app_id, session.id)


def _rows_of(conn: Connection, app_id: str, user_id: str) -> int:
    query = (
        select(func.count())
        .select_from(sessions)
        .where(sessions.c.app_id == app_id, sessions.c.user_id == user_id)
    )
    return int(conn.execute(query).scalar_one())
