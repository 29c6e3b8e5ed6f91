"""Shared fixtures: an ``engine`` on every backend, a fake clock, and the API over ASGI.

Every storage-touching test takes ``engine`` (or ``api``) and so runs once on SQLite and
once on PostgreSQL. PostgreSQL is used when it answers; with CI=true it must answer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sessionhub import AsyncClient, Engine, FakeClock, Settings
from sessionhub.api import create_app
from sessionhub.storage.migrate import upgrade
from sessionhub.storage.schema import metadata

PG_URL = os.environ.get("SESSIONHUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SESSIONHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


# google-adk lives in its own virtualenv (.venv-adk): scripts/test runs tests/adapters_adk
# there with SESSIONHUB_TEST_ADK=1, where a missing package is an error (in CI a failure).
collect_ignore = (
    ["adapters_adk"]
    if not _importable("google.adk") and not os.environ.get("SESSIONHUB_TEST_ADK")
    else []
)


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = Engine(Settings(database_url=PG_URL))

        async def ping() -> None:
            await engine.db.start()
            try:
                await engine.db.ping()
            finally:
                await engine.db.close()

        asyncio.run(ping())
    except Exception as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL test database, migrated; skip (or fail in CI) when it does not answer."""
    problem = _pg_available()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and did not answer: {problem}")
        pytest.skip(f"PostgreSQL not available: {problem}")
    upgrade(PG_URL)
    return PG_URL


def _redis_available() -> str | None:
    """None when Redis answers a PING, else why not."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()
    return None


@pytest.fixture
def redis_url() -> str:
    """The Redis test database, emptied; skip (or fail in CI) when Redis does not answer."""
    problem = _redis_available()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and did not answer at {REDIS_URL}: {problem}")
        pytest.skip(f"Redis not available: {problem}")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "sessionhub.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate_pg(url: str) -> None:
    import asyncpg  # tests may talk to the server directly

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            # A connection of the previous test (a server thread, a stream) may still be
            # finishing a write: TRUNCATE then deadlocks with it, and PostgreSQL picks one to
            # abort. Trying again once it is gone is all it takes.
            for attempt in range(5):
                try:
                    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                    return
                except asyncpg.DeadlockDetectedError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A clean, migrated database of each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "sessionhub.db"
        shutil.copy(template, target)
        yield f"sqlite:///{target}"
    else:
        url: str = request.getfixturevalue("pg_url")
        _truncate_pg(url)
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, run_worker=False, app_cache_s=0)


@pytest.fixture
async def engine(settings: Settings, clock: FakeClock) -> AsyncIterator[Engine]:
    """A started engine on a clean database, reading time from ``clock``."""
    engine = await Engine(settings, clock=clock).start(migrate=False)
    try:
        yield engine
    finally:
        await engine.close()


@dataclass
class Keys:
    app_id: str
    publishable: str
    secret: str
    admin: str


@pytest.fixture
async def keys(engine: Engine) -> Keys:
    """An app with a publishable, a secret and an admin key."""
    app = await engine.apps.create("test")
    pk = await engine.keys.issue("publishable", app.id)
    sk = await engine.keys.issue("secret", app.id)
    ak = await engine.keys.issue("admin")
    return Keys(app.id, pk.token, sk.token, ak.token)


@pytest.fixture
async def api(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the API app, in-process over ASGI."""
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def sessionhub_client(engine: Engine, keys: Keys) -> AsyncIterator[AsyncClient]:
    """The Python AsyncClient with the app's secret key, on the API in-process over ASGI."""
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://testserver", key=keys.secret, transport=transport) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
