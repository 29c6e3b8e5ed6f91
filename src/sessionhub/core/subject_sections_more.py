"""Export and erasure sections for other capabilities' records of a person: work sessions
(plans, memberships, comments, mentions, what they created) and personalization
(profiles, segment memberships, experiment assignments).

A person's own sessions take their work plans with them on erasure (those tables hang off
the session); what they wrote or were given in other people's work sessions is deleted
(memberships, mentions) or keeps its place without them (comments are blanked, goals,
blockers and attachments name ``~erased~`` as their author).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Table

from sessionhub.clock import iso
from sessionhub.core.subject_sections import Found, Records, Section, register_section
from sessionhub.storage import privacy_subjects as q
from sessionhub.storage.schema_personalization import (
    experiment_exposures,
    profiles,
    segment_members,
)
from sessionhub.storage.schema_work import (
    work_attachments,
    work_blockers,
    work_comments,
    work_goals,
    work_members,
    work_mentions,
    work_sessions,
    work_templates,
)

ERASED = "~erased~"
_HIDDEN = {"app_id", "session_sid", "search_doc", "search_tsv", "last_session_sid"}
_TIMES = {"active_since", "first_seen", "last_seen", "vector_at"}


def _render(row: Mapping[Any, Any], ids: Mapping[int, str]) -> dict[str, Any]:
    """A stored row as an export record: times in ISO 8601, the session by its public id."""
    record: dict[str, Any] = {}
    if "session_sid" in row:
        record["session_id"] = ids.get(row["session_sid"])
    for name, value in row.items():
        if name in _HIDDEN:
            continue
        if value is not None and (name.endswith("_at") or name in _TIMES):
            value = iso(value)
        record[str(name)] = value  # column names are str subclasses orjson refuses
    return record


def _keyed(conn: Connection, found: Found, parts: list[tuple[Table, str, list[str]]]) -> Records:
    rows = [
        (table.name, row)
        for table, column, values in parts
        for row in q.rows_by(conn, table, column, values, found.app_id)
    ]
    ids = q.public_ids(conn, [r["session_sid"] for _, r in rows if "session_sid" in r])
    many = len(parts) > 1
    return [{**({"table": name} if many else {}), **_render(row, ids)} for name, row in rows]


def _user(found: Found) -> list[str]:
    return [found.user_id] if found.user_id is not None else []


def _section(
    name: str,
    description: str,
    parts: Callable[[Found], list[tuple[Table, str, list[str]]]],
    erase: Callable[[Connection, Found], int],
) -> Section:
    def read(conn: Connection, found: Found, _position: Any, _limit: int) -> tuple[Records, Any]:
        return _keyed(conn, found, parts(found)), None

    def count(conn: Connection, found: Found) -> int:
        return len(_keyed(conn, found, parts(found)))

    return Section(name, description, read, count, erase)


def _work_plans(conn: Connection, found: Found, _position: Any, _limit: int) -> tuple[Records, Any]:
    rows = q.rows_of_sessions(conn, work_sessions, found.sids, 10**9, None)
    return [_render(row, found.session_ids) for row in rows], None


def _erase_memberships(conn: Connection, found: Found) -> int:
    users = _user(found)
    if users:
        # Others' comments that @mention the user keep their text without the id.
        mentioned = q.rows_by(conn, work_mentions, "user_id", users, found.app_id)
        ids = [row["comment_id"] for row in mentioned]
        for comment in q.rows_by(conn, work_comments, "id", ids, found.app_id):
            q.blank_by(
                conn,
                work_comments,
                "id",
                [comment["id"]],
                found.app_id,
                {
                    "body": comment["body"].replace(f"@{users[0]}", f"@{ERASED}"),
                    "mentions": [m for m in comment["mentions"] or [] if m != users[0]],
                },
            )
    return q.delete_by(conn, work_members, "user_id", users, found.app_id) + q.delete_by(
        conn, work_mentions, "user_id", users, found.app_id
    )


def _erase_contributions(conn: Connection, found: Found) -> int:
    users, app_id = _user(found), found.app_id
    changed = q.blank_by(
        conn, work_comments, "author_id", users, app_id, {"author_id": ERASED, "body": ""}
    )
    for table, column in (
        (work_goals, "created_by"),
        (work_blockers, "opened_by"),
        (work_blockers, "resolved_by"),
        (work_attachments, "created_by"),
    ):
        changed += q.blank_by(conn, table, column, users, app_id, {column: ERASED})
    return changed


def _erase_templates(conn: Connection, found: Found) -> int:
    return q.delete_by(conn, work_templates, "owner_id", _user(found), found.app_id)


def _erase_profiles(conn: Connection, found: Found) -> int:
    users, app_id = _user(found), found.app_id
    return (
        q.delete_by(conn, profiles, "subject_id", users + found.devices, app_id)
        + q.delete_by(conn, segment_members, "user_id", users, app_id)
        + q.delete_by(conn, experiment_exposures, "unit_id", users + found.devices, app_id)
    )


for _extra in (
    Section(
        "work_sessions",
        "The plans of the subject's work sessions: name, description, type, priority, "
        "status changes and time worked.",
        _work_plans,
        lambda conn, found: len(q.rows_of_sessions(conn, work_sessions, found.sids, 10**9, None)),
    ),
    _section(
        "work_memberships",
        "Work sessions the user collaborates on (their role), and the comments that @mention them.",
        lambda found: [
            (work_members, "user_id", _user(found)),
            (work_mentions, "user_id", _user(found)),
        ],
        _erase_memberships,
    ),
    _section(
        "work_contributions",
        "What the user wrote or created in work sessions: comments, goals, blockers they "
        "opened or resolved, attachments.",
        lambda found: [
            (work_comments, "author_id", _user(found)),
            (work_goals, "created_by", _user(found)),
            (work_blockers, "opened_by", _user(found)),
            (work_blockers, "resolved_by", _user(found)),
            (work_attachments, "created_by", _user(found)),
        ],
        _erase_contributions,
    ),
    _section(
        "work_templates",
        "Work-session templates the user made.",
        lambda found: [(work_templates, "owner_id", _user(found))],
        _erase_templates,
    ),
    _section(
        "profiles",
        "Personalization profiles of the user and their devices: activity summary, traits "
        "and interest scores; segment memberships; experiment variants they were shown.",
        lambda found: [
            (profiles, "subject_id", _user(found) + found.devices),
            (segment_members, "user_id", _user(found)),
            (experiment_exposures, "unit_id", _user(found) + found.devices),
        ],
        _erase_profiles,
    ),
):
    register_section(_extra)
