"""The people of a work session: owners manage who is owner, collaborator or viewer."""

from __future__ import annotations

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.work.access import check_actor, plan_for
from sessionhub.core.work.notify import Part
from sessionhub.errors import Conflict, NotFound
from sessionhub.models.work import Member, Members
from sessionhub.storage import work as wq


def _members(conn: Connection, app_id: str, session_id: str, actor: str) -> Members:
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    return _render(conn, plan["session_sid"])


def _render(conn: Connection, sid: int) -> Members:
    return Members(
        items=[
            Member(user_id=row["user_id"], role=row["role"], added_at=from_ms(row["added_at"]))
            for row in wq.members(conn, sid)
        ]
    )


def _put(
    conn: Connection, app_id: str, session_id: str, actor: str, user_id: str, role: str, now: int
) -> tuple[Members, int]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "owner", lock=True, editable=True)
    sid = plan["session_sid"]
    if wq.role_of(conn, sid, user_id) == "owner" and role != "owner" and wq.owners(conn, sid) == 1:
        raise _last_owner(user_id)
    wq.put_member(conn, app_id, sid, user_id, role, now)
    return _render(conn, sid), sid


def _remove(
    conn: Connection, app_id: str, session_id: str, actor: str, user_id: str
) -> tuple[Members, int]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "owner", lock=True, editable=True)
    sid = plan["session_sid"]
    role = wq.role_of(conn, sid, user_id)
    if role is None:
        raise NotFound(f"User {user_id!r} is not a member.", details={"user_id": user_id})
    if role == "owner" and wq.owners(conn, sid) == 1:
        raise _last_owner(user_id)
    wq.remove_member(conn, sid, user_id)
    return _render(conn, sid), sid


def _last_owner(user_id: str) -> Conflict:
    return Conflict(
        f"{user_id!r} is the only owner; make someone else owner first.",
        code="last_owner",
        details={"user_id": user_id},
    )


class Collaborators(Part):
    async def list(self, app_id: str, actor: str, session_id: str) -> Members:
        check_actor(actor)
        return await self._db.read(_members, app_id, session_id, actor)

    async def put(
        self, app_id: str, actor: str, session_id: str, user_id: str, role: str
    ) -> Members:
        """Add a member or change their role (owners only; a session keeps at least one owner)."""
        check_actor(actor)
        members, sid = await self._db.write(
            _put, app_id, session_id, actor, user_id, role, self._clock.now_ms()
        )
        await self.notify(app_id, session_id, sid, "members", members.model_dump(mode="json"))
        return members

    async def remove(self, app_id: str, actor: str, session_id: str, user_id: str) -> Members:
        check_actor(actor)
        members, sid = await self._db.write(_remove, app_id, session_id, actor, user_id)
        await self.notify(app_id, session_id, sid, "members", members.model_dump(mode="json"))
        return members
