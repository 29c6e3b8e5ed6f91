"""What the privacy tests share: reading every stored row, and a keyed app over the API."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Connection, select

from sessionhub import Engine
from sessionhub.storage.schema import metadata
from tests.conftest import Keys, bearer


def _every_row(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    return {
        table.name: [dict(row) for row in conn.execute(select(table)).mappings()]
        for table in metadata.sorted_tables
    }


async def every_row(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, by table name."""
    return await engine.db.read(_every_row)


async def tables_mentioning(engine: Engine, needle: str) -> list[str]:
    """The tables where any stored value contains ``needle``."""
    found = await every_row(engine)
    return sorted(name for name, rows in found.items() if any(needle in str(row) for row in rows))


async def set_settings(engine: Engine, app_id: str, **settings: Any) -> None:
    await engine.apps.update(app_id, settings=settings)


def sk(keys: Keys) -> dict[str, str]:
    return bearer(keys.secret)


def pk(keys: Keys) -> dict[str, str]:
    return bearer(keys.publishable)


async def send_events(
    api: httpx.AsyncClient, keys: Keys, session_id: str, count: int = 1, **headers: str
) -> httpx.Response:
    events = [
        {"session_id": session_id, "type": "page_view", "path": f"/p{i}"} for i in range(count)
    ]
    return await api.post("/v1/events", json={"events": events}, headers={**sk(keys), **headers})
