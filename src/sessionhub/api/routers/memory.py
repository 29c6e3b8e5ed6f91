"""Conversation memory endpoints: messages, session info, a user's conversations, share links.

All need a secret key, except the public view of a share link. Publishable keys may not
append messages: they live in browsers, and a conversation's messages (above all the
assistant's) come from the server that talks to the model, so a browser key that could
write them would let anyone forge a conversation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import Cursor, SecretCaller, SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.errors import NotFound
from sessionhub.models import (
    Budget,
    Conversation,
    Direction,
    IssuedShare,
    Message,
    MessageCount,
    MessageIn,
    Messages,
    MessagesAppend,
    Page,
    SessionInfo,
    Share,
    ShareCreate,
    SharedTranscript,
    StopwordLanguage,
)

router = APIRouter(prefix="/v1", tags=["memory"])

CreateFor = Annotated[
    str | None,
    Query(
        max_length=200,
        description="The user of the session, when this message creates it (get-or-create).",
    ),
]


@router.post("/sessions/{session_id}/messages", response_model=Message, status_code=201)
async def add_message(
    session_id: SessionPath,
    body: MessageIn,
    request: Request,
    caller: SecretCaller,
    user_id: CreateFor = None,
) -> Response:
    """Append a message. A session that does not exist yet is created (kind ``conversation``)."""
    message = await get_engine(request).memory.add(
        app_id_of(caller), session_id, body, create=True, user_id=user_id
    )
    return json_response(message, status=201)


@router.post("/sessions/{session_id}/messages/batch", response_model=Messages, status_code=201)
async def add_messages(
    session_id: SessionPath,
    body: MessagesAppend,
    request: Request,
    caller: SecretCaller,
    user_id: CreateFor = None,
) -> Response:
    """Append up to 1,000 messages in order, atomically (all or none)."""
    stored = await get_engine(request).memory.append(
        app_id_of(caller),
        session_id,
        body.messages,
        create=True,
        user_id=user_id,
        expect_last=body.expect_last,
    )
    return json_response(Messages(items=stored), status=201)


@router.get("/sessions/{session_id}/messages", response_model=Messages)
async def list_messages(
    session_id: SessionPath,
    request: Request,
    caller: SecretCaller,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    cursor: Cursor = None,
    direction: Direction = "backward",
) -> Response:
    """The last ``limit`` messages (``backward``) or the first (``forward``), oldest first."""
    page = await get_engine(request).memory.page(
        app_id_of(caller), session_id, limit=limit, cursor=cursor, direction=direction
    )
    return json_response(page)


@router.get("/sessions/{session_id}/messages/context", response_model=Messages)
async def context_window(
    session_id: SessionPath,
    request: Request,
    caller: SecretCaller,
    max_chars: Annotated[int | None, Query(ge=1)] = None,
    max_tokens: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The most recent messages within a budget of characters or tokens; system messages kept."""
    budget = Budget(max_chars=max_chars, max_tokens=max_tokens)
    return json_response(
        await get_engine(request).memory.within_budget(app_id_of(caller), session_id, budget)
    )


@router.get("/sessions/{session_id}/messages/count", response_model=MessageCount)
async def count_messages(
    session_id: SessionPath, request: Request, caller: SecretCaller
) -> Response:
    """How many messages the history has, in all and by role."""
    return json_response(await get_engine(request).memory.count(app_id_of(caller), session_id))


@router.delete("/sessions/{session_id}/messages/last", response_model=Message)
async def pop_message(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """Remove and return the newest message (404 when the history is empty)."""
    message = await get_engine(request).memory.pop(app_id_of(caller), session_id)
    if message is None:
        raise NotFound(
            f"Session {session_id!r} has no messages.", details={"session_id": session_id}
        )
    return json_response(message)


@router.delete("/sessions/{session_id}/messages")
async def clear_messages(
    session_id: SessionPath, request: Request, caller: SecretCaller
) -> Response:
    """Remove the whole history. Returns ``{"removed": n}``."""
    removed = await get_engine(request).memory.clear(app_id_of(caller), session_id)
    return json_response({"removed": removed})


@router.get("/sessions/{session_id}/info", response_model=SessionInfo)
async def session_info(
    session_id: SessionPath,
    request: Request,
    caller: SecretCaller,
    topics: Annotated[int, Query(ge=0, le=50)] = 5,
    language: StopwordLanguage | None = None,
) -> Response:
    """Timing, messages by role, preferences, cart and top topics of the session."""
    info = await get_engine(request).memory.info(
        app_id_of(caller), session_id, topics=topics, language=language
    )
    return json_response(info)


@router.get("/users/{user_id}/conversations", response_model=Page[Conversation])
async def user_conversations(
    user_id: UserPath,
    request: Request,
    caller: SecretCaller,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> Response:
    """The user's conversations with a live history, newest first, titled by their first message."""
    page = await get_engine(request).memory.conversations(
        app_id_of(caller), user_id, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.post("/sessions/{session_id}/shares", response_model=IssuedShare, status_code=201)
async def create_share(
    session_id: SessionPath,
    request: Request,
    caller: SecretCaller,
    body: ShareCreate | None = None,
) -> Response:
    """Issue a read-only share link of the transcript; the token is shown only now."""
    share = await get_engine(request).shares.create(app_id_of(caller), session_id, body)
    return json_response(share, status=201)


@router.get("/sessions/{session_id}/shares", response_model=list[Share])
async def list_shares(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """The session's share links (without their tokens)."""
    shares = await get_engine(request).shares.list(app_id_of(caller), session_id)
    return json_response([share.model_dump(mode="json") for share in shares])


@router.delete("/sessions/{session_id}/shares/{share_id}", response_model=Share)
async def revoke_share(
    session_id: SessionPath,
    share_id: Annotated[str, Path(max_length=40)],
    request: Request,
    caller: SecretCaller,
) -> Response:
    """Revoke a share link at once."""
    return json_response(
        await get_engine(request).shares.revoke(app_id_of(caller), session_id, share_id)
    )


@router.get("/shared/{token}", response_model=SharedTranscript, tags=["public"])
async def shared_transcript(
    token: Annotated[str, Path(max_length=100)],
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    cursor: Cursor = None,
) -> Response:
    """The shared transcript (user and assistant messages), no key needed. 404 once revoked or expired."""
    transcript = await get_engine(request).shares.view(token, limit=limit, cursor=cursor)
    return json_response(transcript)
