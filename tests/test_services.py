"""The services the suite runs against answer: PostgreSQL and Redis (required in CI)."""

from __future__ import annotations

import redis


def test_redis_answers(redis_url: str) -> None:
    """Redis answers a PING (the redis_url fixture fails in CI when it does not)."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_postgres_answers(pg_url: str) -> None:
    """PostgreSQL answers and is migrated (the pg_url fixture fails in CI when it does not)."""
    assert pg_url.startswith("postgresql://")
