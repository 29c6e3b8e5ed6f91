"""The OpenAI Agents SDK with its session memory in Sessionhub: ``python examples/openai_agents_session.py``.

Needs ``pip install 'sessionhub[agents]'``. With ``OPENAI_API_KEY`` set it runs a real
agent twice in one session (the second turn remembers the first); without it, it shows
the ``Session`` protocol directly. Set ``SESSIONHUB_URL`` and ``SESSIONHUB_KEY`` (a
secret key) to use a running server over HTTP instead of an in-process engine.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from agents import Agent, Runner

from sessionhub import Engine, Settings
from sessionhub.adapters.openai_agents import SessionhubSession


async def converse(session: SessionhubSession) -> None:
    if os.environ.get("OPENAI_API_KEY"):
        agent = Agent(name="Shopping assistant", instructions="Answer in one sentence.")
        await Runner.run(agent, "My budget for a phone is 600 euros.", session=session)
        result = await Runner.run(agent, "What was my budget again?", session=session)
        print("agent:", result.final_output)
    else:
        await session.add_items(
            [
                {"role": "user", "content": "My budget for a phone is 600 euros."},
                {"role": "assistant", "content": "Noted: up to 600 euros."},
            ]
        )
        print("popped:", await session.pop_item())
    for item in await session.get_items():
        print("history:", item)


async def main() -> None:
    url, key = os.environ.get("SESSIONHUB_URL"), os.environ.get("SESSIONHUB_KEY")
    if url and key:
        await converse(SessionhubSession.over_http("agents-demo", url, key, user_id="user-1"))
        return
    data = Path(tempfile.mkdtemp())
    settings = Settings(database_url=f"sqlite:///{data / 'sessionhub.db'}", data_dir=data)
    async with Engine(settings) as engine:
        app = await engine.apps.create("agents-demo")
        await converse(
            SessionhubSession.in_process("agents-demo", engine, app.id, user_id="user-1")
        )


if __name__ == "__main__":
    asyncio.run(main())
