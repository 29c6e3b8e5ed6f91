"""Parallel writers to one session: appends keep one stable order, cart and preferences lose nothing.

The engine here commits every write in its own transaction (batch size 1), so on PostgreSQL
the writes spread over several writer tasks that really run side by side; only the
session's row lock keeps them from losing updates.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from sessionhub import Engine, FakeClock, Settings
from sessionhub.models import CartItemIn, MessageIn, SessionCreate

WRITERS = 8
EACH = 10


@pytest.fixture
async def engine(settings: Settings, clock: FakeClock) -> AsyncIterator[Engine]:
    """An engine that commits each write alone, with several PostgreSQL writer tasks."""
    unbatched = dataclasses.replace(settings, commit_batch_max=1, pg_writers=4)
    engine = await Engine(unbatched, clock=clock).start(migrate=False)
    try:
        yield engine
    finally:
        await engine.close()


@pytest.fixture
async def app_id(engine: Engine) -> str:
    app_id = (await engine.apps.create("busy")).id
    await engine.sessions.create(app_id, SessionCreate(id="s", kind="conversation"))
    return app_id


async def test_parallel_appends_keep_one_stable_order(engine: Engine, app_id: str) -> None:
    """Every message of parallel writers is kept once, each writer's in its own order, and reads agree."""

    async def writer(w: int) -> None:
        for i in range(EACH):
            await engine.memory.add(app_id, "s", MessageIn(role="user", content=f"{w}:{i}"))

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    newest_first = await engine.memory.page(app_id, "s", limit=500)
    oldest_first = await engine.memory.page(app_id, "s", limit=500, direction="forward")
    order = [m.content for m in newest_first.items]
    assert order == [m.content for m in oldest_first.items]
    assert WRITERS * EACH == len(set(order)) == len(order)
    for w in range(WRITERS):
        assert [f"{w}:{i}" for i in range(EACH)] == [c for c in order if c.startswith(f"{w}:")]


async def test_parallel_batches_do_not_interleave(engine: Engine, app_id: str) -> None:
    """A batch appended in parallel with others stays contiguous: its messages are one block."""
    batches = [[MessageIn(role="user", content=f"{b}:{i}") for i in range(5)] for b in range(6)]
    await asyncio.gather(*(engine.memory.append(app_id, "s", batch) for batch in batches))
    order = [m.content for m in (await engine.memory.page(app_id, "s", limit=500)).items]
    blocks = [order[i : i + 5] for i in range(0, len(order), 5)]
    assert all(len({content.split(":")[0] for content in block}) == 1 for block in blocks)
    assert 30 == len(order)


async def test_parallel_cart_adds_never_lose_quantity(engine: Engine, app_id: str) -> None:
    """Many requests adding the same sku at once end with the sum of all their quantities."""
    item = CartItemIn.model_validate({"sku": "phone", "name": "Phone", "price": "9.99"})
    await asyncio.gather(*(engine.cart.add(app_id, "s", item) for _ in range(WRITERS * EACH)))
    cart = await engine.cart.get(app_id, "s")
    assert (WRITERS * EACH, "799.20") == (cart.item_count, cart.total)


async def test_parallel_preference_patches_never_lose_a_key(engine: Engine, app_id: str) -> None:
    """Parallel merge patches of different keys all land in the preferences."""
    await asyncio.gather(
        *(engine.preferences.patch(app_id, "s", {f"k{i}": i}) for i in range(WRITERS * EACH))
    )
    prefs = (await engine.preferences.get(app_id, "s")).preferences
    assert {f"k{i}": i for i in range(WRITERS * EACH)} == prefs


async def test_parallel_get_or_create_makes_one_session(engine: Engine, app_id: str) -> None:
    """Parallel first messages to a new session id create it once and keep every message."""
    await asyncio.gather(
        *(
            engine.memory.add(app_id, "new", MessageIn(role="user", content=str(i)), create=True)
            for i in range(20)
        )
    )
    count = await engine.memory.count(app_id, "new")
    assert 20 == count.count
