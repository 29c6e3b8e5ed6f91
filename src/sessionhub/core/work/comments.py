"""Comments: threaded replies, @mentions into each user's inbox, edits and deletes by
their author only. A deleted comment stays as a placeholder so its replies keep their
thread."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.pagination import check_limit
from sessionhub.core.work.access import check_actor, plan_for, reindex
from sessionhub.core.work.notify import Part
from sessionhub.core.work.search import decode_key, encode_key
from sessionhub.errors import Forbidden, InvalidInput, NotFound
from sessionhub.models import Page
from sessionhub.models.work import Comment, CommentCreate, Mention, MentionsRead
from sessionhub.storage import work_plan as pq
from sessionhub.storage.prepared import Row
from sessionhub.storage.schema_work import work_comments

# @user: letters, digits and . _ - (a trailing dot ends the sentence, not the name).
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9._\-]{0,199})")
MAX_MENTIONS = 50
_sequence = itertools.count()


def ordered_id(now: int) -> str:
    """A comment id that sorts in creation order (time, then a per-process counter) and
    still carries 128 random bits: comments list in (created_at, id) order."""
    return f"cmt_{now:011x}{next(_sequence) % 4096:03x}{secrets.token_urlsafe(16)}"


def mentions_in(body: str) -> list[str]:
    """The users a comment @mentions, in order, each once."""
    found: list[str] = []
    for match in MENTION.finditer(body):
        user = match.group(1).rstrip(".")
        if user not in found:
            found.append(user)
    return found[:MAX_MENTIONS]


def comment_model(row: Mapping[str, Any]) -> Comment:
    deleted = row["deleted_at"] is not None
    return Comment(
        id=row["id"],
        parent_id=row["parent_id"],
        author_id=row["author_id"],
        body="" if deleted else row["body"],
        mentions=[] if deleted else row["mentions"],
        created_at=from_ms(row["created_at"]),
        edited_at=from_ms(row["edited_at"]) if row["edited_at"] is not None else None,
        deleted=deleted,
    )


def _own_comment(conn: Connection, sid: int, comment_id: str, actor: str) -> Row:
    row = pq.item(conn, work_comments, sid, comment_id)
    if row is None or row["deleted_at"] is not None:
        raise NotFound(f"No comment {comment_id!r}.", details={"comment_id": comment_id})
    if row["author_id"] != actor:
        raise Forbidden(
            "Only a comment's author may edit or delete it.",
            code="not_the_author",
            details={"comment_id": comment_id, "author_id": row["author_id"]},
        )
    return row


def _add(
    conn: Connection, app_id: str, session_id: str, actor: str, req: CommentCreate, now: int
) -> Row:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    sid = plan["session_sid"]
    if req.parent_id is not None and pq.item(conn, work_comments, sid, req.parent_id) is None:
        raise InvalidInput(
            f"No comment {req.parent_id!r} to reply to.", details={"field": "parent_id"}
        )
    mentions = mentions_in(req.body)
    row = {
        "id": ordered_id(now),
        "session_sid": sid,
        "parent_id": req.parent_id,
        "author_id": actor,
        "body": req.body,
        "mentions": mentions,
        "created_at": now,
        "edited_at": None,
        "deleted_at": None,
    }
    pq.add(conn, work_comments, row)
    pq.set_mentions(conn, app_id, sid, row["id"], mentions, now)
    reindex(conn, plan)
    return row


def _edit(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    comment_id: str,
    body: str | None,
    now: int,
) -> Row:
    """Change the body (or delete, when ``body`` is None) of the actor's own comment."""
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    sid = plan["session_sid"]
    _own_comment(conn, sid, comment_id, actor)
    if body is None:
        row = pq.change(conn, work_comments, comment_id, {"deleted_at": now})
        pq.set_mentions(conn, app_id, sid, comment_id, [], now)
    else:
        mentions = mentions_in(body)
        values = {"body": body, "mentions": mentions, "edited_at": now}
        row = pq.change(conn, work_comments, comment_id, values)
        pq.set_mentions(conn, app_id, sid, comment_id, mentions, now)
    reindex(conn, plan)
    return row


def _page(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    limit: int,
    after: tuple[int, str] | None,
) -> list[Row]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    return pq.comments_page(conn, plan["session_sid"], limit, after)


class Comments(Part):
    async def add(self, app_id: str, actor: str, session_id: str, req: CommentCreate) -> Comment:
        check_actor(actor)
        row = await self._db.write(_add, app_id, session_id, actor, req, self._clock.now_ms())
        comment = comment_model(row)
        await self.notify(
            app_id, session_id, row["session_sid"], "comment", comment.model_dump(mode="json")
        )
        return comment

    async def edit(
        self, app_id: str, actor: str, session_id: str, comment_id: str, body: str
    ) -> Comment:
        check_actor(actor)
        row = await self._db.write(
            _edit, app_id, session_id, actor, comment_id, body, self._clock.now_ms()
        )
        comment = comment_model(row)
        await self.notify(
            app_id, session_id, row["session_sid"], "comment", comment.model_dump(mode="json")
        )
        return comment

    async def delete(self, app_id: str, actor: str, session_id: str, comment_id: str) -> None:
        check_actor(actor)
        row = await self._db.write(
            _edit, app_id, session_id, actor, comment_id, None, self._clock.now_ms()
        )
        await self.notify(
            app_id,
            session_id,
            row["session_sid"],
            "comment",
            comment_model(row).model_dump(mode="json"),
        )

    async def list(
        self,
        app_id: str,
        actor: str,
        session_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Comment]:
        """Comments oldest first (replies name their parent), a page at a time."""
        check_actor(actor)
        check_limit(limit)
        after = decode_key(cursor, (int, str))
        rows = await self._db.read(_page, app_id, session_id, actor, limit + 1, after)
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_key(last["created_at"], last["id"])
        return Page[Comment](
            items=[comment_model(r) for r in rows[:limit]], next_cursor=next_cursor
        )

    async def mentions(
        self,
        app_id: str,
        actor: str,
        user_id: str,
        *,
        unread: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Mention]:
        """The user's mentions inbox, newest first; only the user may read it."""
        _self_only(check_actor(actor), user_id)
        check_limit(limit)
        after = decode_key(cursor, (int, str))
        rows = await self._db.read(pq.mentions_page, app_id, user_id, unread, limit + 1, after)
        items = [
            Mention(
                comment_id=r["comment_id"],
                session_id=r["session_id"],
                author_id=r["author_id"],
                excerpt=r["body"][:200],
                created_at=from_ms(r["created_at"]),
                read_at=from_ms(r["read_at"]) if r["read_at"] is not None else None,
            )
            for r in rows[:limit]
        ]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_key(last["created_at"], last["comment_id"])
        return Page[Mention](items=items, next_cursor=next_cursor)

    async def mark_read(self, app_id: str, actor: str, user_id: str) -> MentionsRead:
        _self_only(check_actor(actor), user_id)
        marked = await self._db.write(pq.mark_mentions_read, app_id, user_id, self._clock.now_ms())
        return MentionsRead(marked=marked)


def _self_only(actor: str, user_id: str) -> None:
    if actor != user_id:
        raise Forbidden(
            "Only the user themselves may do this.",
            code="not_this_user",
            details={"user_id": user_id, "actor": actor},
        )
