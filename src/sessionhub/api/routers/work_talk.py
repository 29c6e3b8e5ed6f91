"""Comments, mentions and attachments of work sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sessionhub.api.params import Cursor, Limit, SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.api.routers.work_params import AttachmentPath, CommentPath, WorkCaller
from sessionhub.models import Page
from sessionhub.models.work import (
    Attachment,
    Attachments,
    Comment,
    CommentCreate,
    CommentUpdate,
    LinkCreate,
    Mention,
    MentionsRead,
)

router = APIRouter(prefix="/v1/work", tags=["work"])
_SESSION = "/sessions/{session_id}"
_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


@router.post(f"{_SESSION}/comments", response_model=Comment, status_code=201)
async def add_comment(session_id: SessionPath, body: CommentCreate, actor: WorkCaller) -> Response:
    """Comment or reply (``parent_id``); @user mentions go to that user's inbox."""
    comment = await actor.work.comments.add(actor.app_id, actor.user_id, session_id, body)
    return json_response(comment, status=201)


@router.get(f"{_SESSION}/comments", response_model=Page[Comment])
async def list_comments(
    session_id: SessionPath, actor: WorkCaller, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Comments oldest first; replies name their parent."""
    page = await actor.work.comments.list(
        actor.app_id, actor.user_id, session_id, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.patch(f"{_SESSION}/comments/{{comment_id}}", response_model=Comment)
async def edit_comment(
    session_id: SessionPath, comment_id: CommentPath, body: CommentUpdate, actor: WorkCaller
) -> Response:
    """Edit a comment (its author only)."""
    comment = await actor.work.comments.edit(
        actor.app_id, actor.user_id, session_id, comment_id, body.body
    )
    return json_response(comment)


@router.delete(f"{_SESSION}/comments/{{comment_id}}", status_code=204)
async def delete_comment(
    session_id: SessionPath, comment_id: CommentPath, actor: WorkCaller
) -> Response:
    """Delete a comment (its author only); its replies stay in the thread."""
    await actor.work.comments.delete(actor.app_id, actor.user_id, session_id, comment_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/mentions", response_model=Page[Mention])
async def list_mentions(
    user_id: UserPath,
    actor: WorkCaller,
    unread: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The user's mentions inbox, newest first (the user only)."""
    page = await actor.work.comments.mentions(
        actor.app_id, actor.user_id, user_id, unread=unread, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.post("/users/{user_id}/mentions/read", response_model=MentionsRead)
async def mark_mentions_read(user_id: UserPath, actor: WorkCaller) -> Response:
    """Mark every mention in the user's inbox read."""
    return json_response(await actor.work.comments.mark_read(actor.app_id, actor.user_id, user_id))


@router.post(
    f"{_SESSION}/attachments",
    response_model=Attachment,
    status_code=201,
    openapi_extra={"requestBody": {"required": True, "content": _BINARY}},
)
async def upload_attachment(
    session_id: SessionPath,
    request: Request,
    actor: WorkCaller,
    name: Annotated[str, Query(min_length=1, max_length=200, description="The file's name.")],
) -> Response:
    """Upload a file as the raw body, its type in Content-Type (checked against the allowed
    types and the file's first bytes; 422 otherwise, 413 over the size limit)."""
    content_type = request.headers.get("content-type", "application/octet-stream")
    attachment = await actor.work.attachments.add_file(
        actor.app_id, actor.user_id, session_id, name, content_type, await request.body()
    )
    return json_response(attachment, status=201)


@router.post(f"{_SESSION}/links", response_model=Attachment, status_code=201)
async def add_link(session_id: SessionPath, body: LinkCreate, actor: WorkCaller) -> Response:
    """Attach a link."""
    link = await actor.work.attachments.add_link(actor.app_id, actor.user_id, session_id, body)
    return json_response(link, status=201)


@router.get(f"{_SESSION}/attachments", response_model=Attachments)
async def list_attachments(session_id: SessionPath, actor: WorkCaller) -> Response:
    """Files and links attached to the session."""
    return json_response(await actor.work.attachments.list(actor.app_id, actor.user_id, session_id))


@router.get(
    f"{_SESSION}/attachments/{{attachment_id}}/content",
    response_class=Response,
    responses={200: {"content": _BINARY, "description": "The file, with its content type."}},
)
async def download_attachment(
    session_id: SessionPath, attachment_id: AttachmentPath, actor: WorkCaller
) -> Response:
    """Download a file attachment."""
    attachment, path = await actor.work.attachments.content(
        actor.app_id, actor.user_id, session_id, attachment_id
    )
    safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in attachment.name)
    return Response(
        content=path.read_bytes(),
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete(f"{_SESSION}/attachments/{{attachment_id}}", status_code=204)
async def delete_attachment(
    session_id: SessionPath, attachment_id: AttachmentPath, actor: WorkCaller
) -> Response:
    """Remove an attachment (and its file)."""
    await actor.work.attachments.remove(actor.app_id, actor.user_id, session_id, attachment_id)
    return Response(status_code=204)
