"""Google ADK with its sessions in Sessionhub: ``.venv-adk/bin/python examples/google_adk_session.py``.

Needs ``pip install 'sessionhub[adk]'`` (scripts/test makes .venv-adk with it). With
``GOOGLE_API_KEY`` set it runs a real Gemini agent twice in one session (the second turn
remembers the first); without it, an offline model stands in. Set ``SESSIONHUB_URL`` and
``SESSIONHUB_KEY`` (a secret key) to use a running server over HTTP instead of an
in-process engine.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.genai import types

from sessionhub import Engine, Settings
from sessionhub.adapters.google_adk import SessionhubSessionService


class OfflineLlm(BaseLlm):
    """Stands in for Gemini without a key: says how many turns it was shown."""

    async def generate_content_async(
        self, llm_request: Any, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        text = f"(offline) I was shown {len(llm_request.contents)} turns."
        yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text=text)]))


async def converse(service: SessionhubSessionService) -> None:
    model: Any = "gemini-2.0-flash" if os.environ.get("GOOGLE_API_KEY") else OfflineLlm(model="x")
    agent = LlmAgent(name="shop", model=model, instruction="Answer in one sentence.")
    runner = Runner(agent=agent, app_name="shop", session_service=service)
    session = await service.create_session(
        app_name="shop", user_id="user-1", state={"user:budget": 600, "temp:draft": True}
    )
    for question in ("My budget for a phone is 600 euros.", "What was my budget again?"):
        message = types.Content(role="user", parts=[types.Part(text=question)])
        async for event in runner.run_async(
            user_id="user-1", session_id=session.id, new_message=message
        ):
            if event.content and event.content.parts and event.content.parts[0].text:
                print(f"{event.author}: {event.content.parts[0].text}")
    stored = await service.get_session(app_name="shop", user_id="user-1", session_id=session.id)
    assert stored is not None
    print("state:", stored.state, "| events:", len(stored.events))
    listed = await service.list_sessions(app_name="shop", user_id="user-1", page_size=10)
    print("sessions:", [s.id for s in listed.sessions], "next page:", listed.next_page_token)


async def main() -> None:
    url, key = os.environ.get("SESSIONHUB_URL"), os.environ.get("SESSIONHUB_KEY")
    if url and key:
        service = SessionhubSessionService.over_http(url, key)
        try:
            await converse(service)
        finally:
            await service.close()
        return
    data = Path(tempfile.mkdtemp())
    settings = Settings(database_url=f"sqlite:///{data / 'sessionhub.db'}", data_dir=data)
    async with Engine(settings) as engine:
        app = await engine.apps.create("adk-demo")
        await converse(SessionhubSessionService.in_process(engine, app.id))


if __name__ == "__main__":
    asyncio.run(main())
