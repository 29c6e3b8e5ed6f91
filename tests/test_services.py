"""The services the suite runs against answer: PostgreSQL and Redis (required in CI)."""

from __future__ import annotations

import os

import pytest
import redis

from tests.conftest import IN_CI

REDIS_URL = os.environ.get("SESSIONHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_redis_answers() -> None:
    """Redis answers a PING (in CI its absence fails the run instead of skipping)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        answered = client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and did not answer at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not available: {exc}")
    finally:
        client.close()
    assert answered is True


def test_postgres_answers(pg_url: str) -> None:
    """PostgreSQL answers and is migrated (the pg_url fixture fails in CI when it does not)."""
    assert pg_url.startswith("postgresql://")
