"""Read-only share links of a conversation.

A share is an unguessable token (256 random bits; only its SHA-256 is stored) that shows
the session's transcript, the user and assistant messages with their times, and nothing
else: no system prompt, no tool calls, no metadata, preferences, cart or session fields.
A revoked or expired share, or one whose session was deleted, is a 404 like an unknown one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping

from sessionhub.clock import from_ms
from sessionhub.core.pagination import check_limit, decode_cursor, encode_cursor
from sessionhub.core.session_rows import existing_session, history_alive, locked_session
from sessionhub.errors import NotFound
from sessionhub.ids import hash_secret, new_id, new_secret
from sessionhub.models import (
    IssuedShare,
    Share,
    ShareCreate,
    SharedMessage,
    SharedTranscript,
)
from sessionhub.storage import memory as mq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

SHARED_ROLES = ("user", "assistant")


def share_model(row: Mapping[Any, Any], session_id: str) -> Share:
    return Share(
        id=row["id"],
        session_id=session_id,
        created_at=from_ms(row["created_at"]),
        expires_at=from_ms(row["expires_at"]) if row["expires_at"] is not None else None,
        revoked_at=from_ms(row["revoked_at"]) if row["revoked_at"] is not None else None,
    )


def _create(conn: Connection, app_id: str, session_id: str, row: dict[str, Any]) -> None:
    sid = locked_session(conn, app_id, session_id)["sid"]
    mq.insert_share(conn, {**row, "app_id": app_id, "session_sid": sid})


def _list(conn: Connection, app_id: str, session_id: str) -> list[RowMapping]:
    return mq.session_shares(conn, existing_session(conn, app_id, session_id)["sid"])


def _revoke(conn: Connection, app_id: str, session_id: str, share_id: str, now: int) -> RowMapping:
    sid = locked_session(conn, app_id, session_id)["sid"]
    row = mq.revoke_share(conn, sid, share_id, now)
    if row is None:
        raise NotFound(f"No share {share_id!r} of this session.", details={"share_id": share_id})
    return row


def _view(
    conn: Connection, token_hash: str, now: int, after: int, limit: int
) -> tuple[RowMapping, list[RowMapping]]:
    share = mq.share_by_hash(conn, token_hash)
    gone = share is None or share["revoked_at"] is not None
    if share is None or gone or (share["expires_at"] is not None and share["expires_at"] <= now):
        raise NotFound("No such shared conversation (it may have expired or been revoked).")
    if not history_alive(mq.get_memory(conn, share["session_sid"]), now):
        return share, []
    return share, mq.first_messages(conn, share["session_sid"], after, limit, SHARED_ROLES)


class Shares:
    """Share links: create, list, revoke, and the public read-only view."""

    def __init__(self, engine: Engine):
        self._db = engine.db
        self._clock = engine.clock

    async def create(
        self, app_id: str, session_id: str, req: ShareCreate | None = None
    ) -> IssuedShare:
        """Issue a share link; the token is shown only here."""
        req = req or ShareCreate()
        now = self._clock.now_ms()
        token = new_secret("shr")
        row = {
            "id": new_id("shr"),
            "token_hash": hash_secret(token),
            "created_at": now,
            "expires_at": now + req.expires_in_s * 1000 if req.expires_in_s is not None else None,
            "revoked_at": None,
        }
        await self._db.write(_create, app_id, session_id, row)
        share = share_model(row, session_id)
        return IssuedShare(**share.model_dump(), token=token, path=f"/v1/shared/{token}")

    async def list(self, app_id: str, session_id: str) -> list[Share]:
        rows = await self._db.read(_list, app_id, session_id)
        return [share_model(row, session_id) for row in rows]

    async def revoke(self, app_id: str, session_id: str, share_id: str) -> Share:
        """Revoke a share at once (revoking again changes nothing)."""
        now = self._clock.now_ms()
        return share_model(
            await self._db.write(_revoke, app_id, session_id, share_id, now), session_id
        )

    async def view(
        self, token: str, *, limit: int = 200, cursor: str | None = None
    ) -> SharedTranscript:
        """The shared transcript, oldest first, a page at a time."""
        check_limit(limit)
        position = decode_cursor(cursor, parts=1)
        after = position[0] if position is not None else 0
        now = self._clock.now_ms()
        share, rows = await self._db.read(_view, hash_secret(token), now, after, limit + 1)
        items = [
            SharedMessage(
                role=row["role"], content=row["content"], created_at=from_ms(row["created_at"])
            )
            for row in rows[:limit]
        ]
        next_cursor = encode_cursor(rows[limit - 1]["seq"]) if len(rows) > limit else None
        expires = share["expires_at"]
        return SharedTranscript(
            messages=items,
            next_cursor=next_cursor,
            expires_at=from_ms(expires) if expires is not None else None,
        )
