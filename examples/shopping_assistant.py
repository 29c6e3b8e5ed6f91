"""A shopping assistant's session memory, in-process: run ``python examples/shopping_assistant.py``.

It keeps the conversation, preferences, cart and cached answers of one chat session in
an SQLite file under a temporary directory, then prints what the session knows and a
share link's transcript. No server and no model needed: the "model" is a stub.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from sessionhub import Engine, Settings
from sessionhub.models import CacheLookup, CachePut, CartItemIn, MessageIn


def answer(question: str) -> str:
    """Stands in for an LLM call."""
    return f"Here is what I found about: {question}"


async def ask(engine: Engine, app_id: str, session_id: str, question: str) -> str:
    """Answer from the cache when we can, else 'call the model', and remember both turns."""
    await engine.memory.add(
        app_id,
        session_id,
        MessageIn(role="user", content=question),
        create=True,
        user_id="user-123",
    )
    cached = await engine.response_cache.lookup(
        app_id, CacheLookup(prompt=question), session_id=session_id
    )
    if cached.entry is not None:
        reply = cached.entry.response
    else:
        context = await engine.memory.last(app_id, session_id, 20)  # what the model would see
        reply = answer(question) + f" (with {len(context.items)} messages of context)"
        await engine.response_cache.put(
            app_id, CachePut(prompt=question, response=reply), session_id=session_id
        )
    await engine.memory.add(app_id, session_id, MessageIn(role="assistant", content=reply))
    return reply


async def main() -> None:
    data = Path(tempfile.mkdtemp())
    settings = Settings(database_url=f"sqlite:///{data / 'sessionhub.db'}", data_dir=data)
    async with Engine(settings) as engine:
        app = await engine.apps.create("shopping-assistant")
        sid = "user-123-session-456"
        await ask(engine, app.id, sid, "What smartphones do you have?")
        await ask(engine, app.id, sid, "Which smartphone has the best camera?")
        await ask(engine, app.id, sid, "what smartphones do you HAVE?")  # served from the cache
        await engine.preferences.patch(
            app.id, sid, {"budget_range": "500-1000", "preferred_brands": ["Apple", "Samsung"]}
        )
        await engine.cart.add(
            app.id,
            sid,
            CartItemIn(
                sku="IPH15PRO-256", name="iPhone 15 Pro", price="999", category="smartphone"
            ),
        )
        info = await engine.memory.info(app.id, sid)
        stats = await engine.response_cache.stats(app.id, session_id=sid)
        share = await engine.shares.create(app.id, sid)
        transcript = await engine.shares.view(share.token)
        print(info.model_dump_json(indent=2))
        print(f"cache: {stats.hits} hits, {stats.misses} misses")
        print(f"share link path: {share.path[:24]}… ({len(transcript.messages)} messages)")


if __name__ == "__main__":
    asyncio.run(main())
