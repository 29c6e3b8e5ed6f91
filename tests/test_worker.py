"""The worker: ending idle and expired sessions, purging deleted ones, and taking turns by lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, func, insert, select

from sessionhub import Engine, FakeClock, Settings
from sessionhub.models import SessionCreate
from sessionhub.storage import leases
from sessionhub.storage import sessions as q
from sessionhub.storage.schema import SESSION_CHILD_TABLES, metadata, sessions
from sessionhub.worker import Worker
from sessionhub.worker.jobs import JOBS, Job
from sessionhub.worker.runner import LEASE_MS
from tests.conftest import Keys

IDLE_MS = 1_800_000


async def stored(engine: Engine, app_id: str, session_id: str) -> dict[str, Any]:
    """The session's row as stored (not as a read computes it)."""
    row = await engine.db.read(q.get, app_id, session_id)
    assert row is not None
    return dict(row)


@pytest.fixture
async def second_engine(settings: Settings, clock: FakeClock) -> AsyncIterator[Engine]:
    """Another engine (another process, in effect) on the same database."""
    other = await Engine(settings, clock=clock).start(migrate=False)
    try:
        yield other
    finally:
        await other.close()


# -- expiry ------------------------------------------------------------------------------------


async def test_run_once_ends_idle_sessions_at_the_moment_they_idled_out(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """An idle session is stored as ended (timeout) at its idle limit, with its duration up to the last activity."""
    start = clock.now_ms()
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    clock.advance(100)
    await engine.sessions.heartbeat(keys.app_id, session.id)
    clock.advance(IDLE_MS / 1000 + 500)
    result = await Worker(engine).run_once()
    assert 1 == result["expire_sessions"]
    row = await stored(engine, keys.app_id, session.id)
    assert ("ended", "timeout", start + 100_000 + IDLE_MS) == (
        row["status"],
        row["end_reason"],
        row["ended_at"],
    )
    assert 100 == (await engine.sessions.get(keys.app_id, session.id)).duration_s


async def test_run_once_ends_expired_sessions_at_their_absolute_limit(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A session kept alive by heartbeats is stored as ended (expired) at its absolute lifetime."""
    await engine.apps.update(keys.app_id, settings={"absolute_lifetime_s": 3000})
    start = clock.now_ms()
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    for _ in range(2):
        clock.advance(1400)
        await engine.sessions.heartbeat(keys.app_id, session.id)
    clock.advance(1000)  # 3800 s: past the lifetime, not yet idle
    await Worker(engine).run_once()
    row = await stored(engine, keys.app_id, session.id)
    assert ("ended", "expired", start + 3_000_000) == (
        row["status"],
        row["end_reason"],
        row["ended_at"],
    )
    assert 2800 == (await engine.sessions.get(keys.app_id, session.id)).duration_s


async def test_the_worker_writes_down_what_readers_already_saw(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A session reads the same (status, reason, end, duration) before and after the worker ends it."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate(user_id="u1"))
    clock.advance(IDLE_MS / 1000 + 1)
    before = await engine.sessions.get(keys.app_id, session.id)
    await Worker(engine).run_once()
    clock.advance(3600)
    after = await engine.sessions.get(keys.app_id, session.id)
    assert before == after


async def test_run_once_leaves_running_sessions_alone(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Sessions within their limits, work sessions without limits and ended ones are not touched."""
    running, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    work, _ = await engine.sessions.create(keys.app_id, SessionCreate(kind="work"))
    ended, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    await engine.sessions.end(keys.app_id, ended.id)
    before = [await stored(engine, keys.app_id, s.id) for s in (running, work, ended)]
    clock.advance(IDLE_MS / 1000 - 1)
    result = await Worker(engine).run_once()
    assert 0 == result["expire_sessions"]
    assert before == [await stored(engine, keys.app_id, s.id) for s in (running, work, ended)]


async def test_run_once_works_through_more_sessions_than_one_batch(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """With a batch smaller than the backlog, one run still ends every due session, and a second finds none."""
    engine.settings = engine.settings.replace(worker_batch=3)
    for _ in range(10):
        await engine.sessions.create(keys.app_id, SessionCreate())
    clock.advance(IDLE_MS / 1000 + 1)
    assert 10 == (await Worker(engine).run_once())["expire_sessions"]
    assert 0 == (await Worker(engine).run_once())["expire_sessions"]


async def test_touches_leave_the_workers_index_alone_until_it_looks(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A heartbeat moves the idle limit, not ``idle_check_at``; the worker reschedules, then ends on time."""
    start = clock.now_ms()
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    clock.advance(600)
    await engine.sessions.heartbeat(keys.app_id, session.id)
    row = await stored(engine, keys.app_id, session.id)
    assert (start + IDLE_MS, start + 600_000 + IDLE_MS) == (
        row["idle_check_at"],
        row["idle_expires_at"],
    )
    clock.advance(IDLE_MS / 1000 - 300)  # past the first check, within the moved limit
    assert 0 == (await Worker(engine).run_once())["expire_sessions"]
    row = await stored(engine, keys.app_id, session.id)
    assert ("active", start + 600_000 + IDLE_MS) == (row["status"], row["idle_check_at"])
    clock.advance(301)
    assert 1 == (await Worker(engine).run_once())["expire_sessions"]
    row = await stored(engine, keys.app_id, session.id)
    assert ("ended", "timeout", start + 600_000 + IDLE_MS) == (
        row["status"],
        row["end_reason"],
        row["ended_at"],
    )


async def test_a_batch_of_sessions_looked_at_too_early_does_not_stop_the_run(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Rescheduled sessions fill whole batches; the run goes on to the due ones behind them."""
    engine.settings = engine.settings.replace(worker_batch=2)
    kept = [(await engine.sessions.create(keys.app_id, SessionCreate()))[0] for _ in range(5)]
    clock.advance(10)
    idle = [(await engine.sessions.create(keys.app_id, SessionCreate()))[0] for _ in range(3)]
    clock.advance(IDLE_MS / 1000 - 20)
    for session in kept:
        await engine.sessions.heartbeat(keys.app_id, session.id)
    clock.advance(20)  # the first five are due for a look, the last three idle out
    assert 3 == (await Worker(engine).run_once())["expire_sessions"]
    statuses = [(await stored(engine, keys.app_id, s.id))["status"] for s in kept + idle]
    assert ["active"] * 5 + ["ended"] * 3 == statuses


# -- purge -------------------------------------------------------------------------------------


async def test_purge_removes_deleted_sessions_only(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """The purge job removes the rows of deleted sessions and keeps every other."""
    gone, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    kept, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    await engine.sessions.delete(keys.app_id, gone.id)
    result = await Worker(engine).run_once()
    assert 1 == result["purge_deleted_sessions"]
    assert [kept.id] == await engine.db.read(_session_ids)


def test_every_table_with_a_session_column_is_purged_with_its_session() -> None:
    """Each table holding a session_sid is registered for the purge, so none can keep orphans."""
    with_session = {t.name for t in metadata.sorted_tables if "session_sid" in t.c}
    assert with_session == {t.name for t in SESSION_CHILD_TABLES}


child_metadata = MetaData()
probe_children = Table(
    "test_probe_children",
    child_metadata,
    Column("session_sid", BigInteger, nullable=False),
    Column("label", String(20), nullable=False),
)


@pytest.fixture
async def probe_table(engine: Engine) -> AsyncIterator[Table]:
    """A child table, created in the database and registered for the purge while the test runs."""
    await engine.db.write(_create_probe_table)
    SESSION_CHILD_TABLES.append(probe_children)
    try:
        yield probe_children
    finally:
        SESSION_CHILD_TABLES.remove(probe_children)
        await engine.db.write(_drop_probe_table)


async def test_purge_leaves_no_orphaned_child_rows(
    engine: Engine, keys: Keys, probe_table: Table
) -> None:
    """Rows of a deleted session in a registered child table go with it; a kept session's stay."""
    gone, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    kept, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    gone_sid = (await stored(engine, keys.app_id, gone.id))["sid"]
    kept_sid = (await stored(engine, keys.app_id, kept.id))["sid"]
    await engine.db.write(
        _add_children, [(gone_sid, "gone"), (gone_sid, "gone"), (kept_sid, "kept")]
    )
    await engine.sessions.delete(keys.app_id, gone.id)
    await Worker(engine).run_once()
    assert ["kept"] == await engine.db.read(_probe_labels)
    assert [] == await engine.db.read(_orphans)


def _create_probe_table(conn: Connection) -> None:
    child_metadata.create_all(conn)


def _drop_probe_table(conn: Connection) -> None:
    child_metadata.drop_all(conn)


def _add_children(conn: Connection, rows: list[tuple[int, str]]) -> None:
    conn.execute(insert(probe_children), [{"session_sid": s, "label": lbl} for s, lbl in rows])


def _probe_labels(conn: Connection) -> list[str]:
    return list(conn.execute(select(probe_children.c.label)).scalars())


def _orphans(conn: Connection) -> list[str]:
    """Child rows in any registered table whose session row is gone."""
    found = []
    for table in SESSION_CHILD_TABLES:
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c.session_sid.is_not(None))
            .where(table.c.session_sid.not_in(select(sessions.c.sid)))
        )
        if conn.execute(query).scalar_one():
            found.append(table.name)
    return found


def _session_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(sessions.c.id)).scalars())


# -- leases ------------------------------------------------------------------------------------


async def test_two_workers_never_run_a_job_at_the_same_time(
    engine: Engine, second_engine: Engine
) -> None:
    """While one worker runs a job under its lease, a worker of another engine skips that job."""
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def slow(engine: Engine) -> int:
        runs.append("slow")
        started.set()
        await release.wait()
        return 0

    jobs = [Job("slow", slow)]
    first = asyncio.create_task(Worker(engine, jobs).run_once())
    await started.wait()
    second = await Worker(second_engine, jobs).run_once()
    release.set()
    assert ({"slow": None}, {"slow": 0}) == (second, await first)
    assert ["slow"] == runs


async def test_a_released_lease_lets_the_next_worker_run(
    engine: Engine, second_engine: Engine
) -> None:
    """Workers taking turns each run the job: the lease is released when a run ends."""
    runs: list[str] = []

    async def job(engine: Engine) -> int:
        runs.append("ran")
        return 0

    jobs = [Job("turns", job)]
    await Worker(engine, jobs).run_once()
    await Worker(second_engine, jobs).run_once()
    assert ["ran", "ran"] == runs


async def test_a_lease_left_by_a_crashed_worker_expires(
    engine: Engine, second_engine: Engine, clock: FakeClock
) -> None:
    """A lease whose holder died blocks other workers only until it runs out."""
    now = clock.now_ms()
    for job in JOBS:
        assert await engine.db.write(leases.claim, job.name, "wrk_crashed", now, LEASE_MS)
    worker = Worker(second_engine)
    assert {job.name: None for job in JOBS} == await worker.run_once()
    clock.advance(LEASE_MS / 1000)
    assert {job.name: 0 for job in JOBS} == await worker.run_once()


async def test_workers_racing_end_each_due_session_once(
    engine: Engine, second_engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Two workers run at once over a backlog: together they end each due session exactly once."""
    for _ in range(20):
        await engine.sessions.create(keys.app_id, SessionCreate())
    clock.advance(IDLE_MS / 1000 + 1)
    results = await asyncio.gather(Worker(engine).run_once(), Worker(second_engine).run_once())
    ended = [r["expire_sessions"] for r in results if r["expire_sessions"] is not None]
    assert 20 == sum(ended)
    page = await engine.sessions.list(keys.app_id, limit=500)
    assert {("ended", "timeout")} == {(s.status, s.end_reason) for s in page.items}


async def test_a_failing_job_does_not_stop_the_others(engine: Engine) -> None:
    """A job that raises is reported as not run; the jobs after it still run and its lease is freed."""

    async def broken(engine: Engine) -> int:
        raise RuntimeError("boom")

    async def fine(engine: Engine) -> int:
        return 7

    worker = Worker(engine, [Job("broken", broken), Job("fine", fine)])
    assert {"broken": None, "fine": 7} == await worker.run_once()
    assert {"broken": None, "fine": 7} == await Worker(engine, worker.jobs).run_once()
