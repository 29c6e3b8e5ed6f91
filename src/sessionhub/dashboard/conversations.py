"""Conversations: the conversation sessions, and one's transcript, preferences, cart and topics."""

from __future__ import annotations

import asyncio
from collections import Counter

from fastapi import APIRouter
from fastapi.responses import Response

from sessionhub.dashboard.web import CtxDep
from sessionhub.models import SessionFilter

router = APIRouter()

PAGE_SIZE = 50
TRANSCRIPT = 200
TOPIC_SAMPLE = 20  # conversations whose topics make the app-wide "top topics"


@router.get("/conversations")
async def conversations(ctx: CtxDep) -> Response:
    """Conversation sessions, newest first, with the topics of the latest ones."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    cursor = ctx.request.query_params.get("cursor") or None
    page = await ctx.engine.sessions.list(
        ctx.app_id,
        SessionFilter(kind="conversation"),
        limit=PAGE_SIZE,
        cursor=cursor and cursor[:200],
    )
    infos = await asyncio.gather(
        *(ctx.engine.memory.info(ctx.app_id, s.id, topics=5) for s in page.items[:TOPIC_SAMPLE])
    )
    topics: Counter[str] = Counter()
    for info in infos:
        for topic in info.top_topics:
            topics[topic.word] += topic.count
    by_id = {info.session_id: info for info in infos}
    return ctx.render("conversations.html", page=page, infos=by_id, topics=topics.most_common(12))


@router.get("/conversations/{session_id}")
async def conversation(ctx: CtxDep, session_id: str) -> Response:
    """One conversation: the transcript (newest 200 messages), preferences, cart, top topics."""
    app_id = ctx.app_id
    info = await ctx.engine.memory.info(app_id, session_id[:200], topics=10)
    messages = await ctx.engine.memory.last(app_id, info.session_id, limit=TRANSCRIPT)
    return ctx.render("conversation.html", info=info, messages=messages)
