"""Who may do what in a work session, and the plan row as the caller sees it.

Every operation loads the plan and the acting user's role in the same transaction as its
reads or writes, so a role removed a moment ago is refused at once. Ranks: a viewer
reads; a collaborator also edits goals, milestones, blockers, comments and attachments;
an owner also manages people and the lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.session_rows import not_found
from sessionhub.errors import Conflict, Forbidden, Unauthorized
from sessionhub.models.work import WorkSession
from sessionhub.storage import work as wq
from sessionhub.storage import work_plan as pq
from sessionhub.storage.prepared import Row

ROLE_RANK = {"viewer": 0, "collaborator": 1, "owner": 2}
PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2, "urgent": 3}
# Where each status may go through POST .../transition (DELETE archives from any state).
ALLOWED: dict[str, tuple[str, ...]] = {
    "draft": ("active", "cancelled"),
    "active": ("paused", "completed", "cancelled"),
    "paused": ("active", "completed", "cancelled"),
    "completed": (),
    "cancelled": (),
    "archived": (),
}
OPEN = frozenset({"draft", "active", "paused"})


def check_actor(actor: str | None) -> str:
    """The acting user's id; 401 actor_required when it is missing or unusable."""
    if not actor or len(actor) > 200 or "\x00" in actor or actor != actor.strip():
        raise Unauthorized(
            "Name the acting user in the X-Sessionhub-User header (1-200 characters).",
            code="actor_required",
            details={"header": "X-Sessionhub-User"},
        )
    return actor


def plan_for(
    conn: Connection,
    app_id: str,
    session_id: str,
    actor: str,
    need: str = "viewer",
    *,
    lock: bool = False,
    editable: bool = False,
) -> tuple[Row, str]:
    """The plan and the actor's role; 404, 403 not_a_member / role_forbidden, or 409
    session_archived when ``editable`` and the session is archived."""
    plan = wq.get(conn, app_id, session_id, lock=lock)
    if plan is None:
        raise not_found(session_id)
    role = wq.role_of(conn, plan["session_sid"], actor)
    if role is None:
        raise Forbidden(
            f"User {actor!r} is not a member of work session {session_id!r}.",
            code="not_a_member",
            details={"session_id": session_id, "user_id": actor},
        )
    if ROLE_RANK[role] < ROLE_RANK[need]:
        raise Forbidden(
            f"This needs the {need} role; {actor!r} is a {role}.",
            code="role_forbidden",
            details={"session_id": session_id, "role": role, "needed": need},
        )
    if editable and plan["status"] == "archived":
        raise Conflict(
            f"Work session {session_id!r} is archived and read-only.",
            code="session_archived",
            details={"session_id": session_id},
        )
    return plan, role


def active_ms(plan: Mapping[str, Any], now: int) -> int:
    """Time spent active so far, the current stretch included."""
    since = plan["active_since"]
    return int(plan["active_ms"]) + (max(0, now - since) if since is not None else 0)


def _time(ms: int | None) -> Any:
    return from_ms(ms) if ms is not None else None


def to_model(plan: Mapping[str, Any], role: str | None, now: int) -> WorkSession:
    return WorkSession.model_validate(
        {
            "id": plan["id"],
            "status": plan["status"],
            "name": plan["name"],
            "description": plan["description"],
            "type": plan["type"],
            "priority": plan["priority"],
            "estimate_s": plan["estimate_s"],
            "difficulty": plan["difficulty"],
            "skills": plan["skills"],
            "custom": plan["custom"],
            "template_id": plan["template_id"],
            "template_version": plan["template_version"],
            "owner_id": plan["owner_id"],
            "role": role,
            "version": plan["version"],
            "created_at": from_ms(plan["created_at"]),
            "updated_at": from_ms(plan["updated_at"]),
            "started_at": _time(plan["started_at"]),
            "completed_at": _time(plan["completed_at"]),
            "cancelled_at": _time(plan["cancelled_at"]),
            "archived_at": _time(plan["archived_at"]),
            "active_s": active_ms(plan, now) / 1000,
            "transitions": [
                {"from_status": t["from"], "to": t["to"], "at": from_ms(t["at"]), "by": t["by"]}
                for t in plan["transitions"]
            ],
            "allowed_transitions": list(ALLOWED[plan["status"]]),
        }
    )


def check_version(
    plan: Mapping[str, Any], expected: int | None, role: str, now: int, what: str = "session"
) -> None:
    """409 version_mismatch, with the current state, when ``expected`` is stale."""
    if expected is not None and expected != plan["version"]:
        current = to_model(plan, role, now).model_dump(mode="json")
        raise Conflict(
            f"The work {what} changed since version {expected} (now {plan['version']}); "
            "read it again and retry.",
            code="version_mismatch",
            details={"expected": expected, "version": plan["version"], "current": current},
        )


def bump(conn: Connection, plan: Mapping[str, Any], values: dict[str, Any], now: int) -> Row:
    """Change the plan row: a new version, stamped now."""
    return wq.update_plan(
        conn, plan["session_sid"], {**values, "version": plan["version"] + 1, "updated_at": now}
    )


def search_doc(
    plan: Mapping[str, Any], goals: Sequence[Mapping[str, Any]], comments: Sequence[str]
) -> str:
    """The session's searchable text: name, description, goals and comments."""
    parts = [plan["name"], plan["description"]]
    for goal in goals:
        parts += [goal["title"], goal["description"]]
    parts += comments
    return "\n".join(part for part in parts if part)


def reindex(conn: Connection, plan: Mapping[str, Any]) -> None:
    """Rebuild the session's searchable text from what is stored now."""
    sid = plan["session_sid"]
    doc = search_doc(plan, pq.goals(conn, sid), pq.comment_texts(conn, sid))
    wq.set_search_doc(conn, sid, doc)
