"""The sections of a data-subject export: what kinds of record exist, what each means, how
to read (and, off the session tables, erase) a subject's records of that kind.

Every reader runs in a read transaction and returns ``(records, position)``: a page of
JSON-ready records and where the next page starts (None: no more).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from sessionhub import crypto
from sessionhub.clock import iso
from sessionhub.core.sessions import to_model
from sessionhub.storage import privacy as pq
from sessionhub.storage import privacy_subjects as q
from sessionhub.storage.schema import (
    cart_items,
    events,
    messages,
    response_cache,
    session_memory,
    shares,
)
from sessionhub.storage.schema import state_entries as state_table

Records = list[dict[str, Any]]


@dataclass
class Found:
    """A subject and what was found of it: its live sessions, devices and users."""

    app_id: str
    user_id: str | None
    device_id: str | None
    sessions: list[dict[str, Any]]
    devices: list[str]
    users: list[str]
    now: int
    sids: list[int] = field(init=False)
    session_ids: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        self.sids = [row["sid"] for row in self.sessions]
        self.session_ids = {row["sid"]: row["id"] for row in self.sessions}

    def subjects(self) -> list[tuple[str, str]]:
        """The consent subjects: the user and its devices, or the device."""
        found = [("device", device) for device in self.devices]
        if self.user_id is not None:
            found.append(("user", self.user_id))
        return found


@dataclass(frozen=True)
class Section:
    """One kind of record in an export."""

    name: str
    description: str
    read: Callable[[Connection, Found, Any, int], tuple[Records, Any]]
    count: Callable[[Connection, Found], int]
    # For records outside the session tables: delete the subject's (in the erasure's
    # transaction). Session-owned rows go with their sessions.
    erase: Callable[[Connection, Found], int] | None = None
    page: int = 1000


SECTIONS: list[Section] = []


def register_section(section: Section) -> None:
    """Add a kind of record to exports, counts and erasure (replacing one of that name)."""
    SECTIONS[:] = [s for s in SECTIONS if s.name != section.name]
    SECTIONS.append(section)


def _times(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    out = {str(k): v for k, v in row.items()}  # column names are str subclasses orjson refuses
    for name in names:
        out[name] = iso(out[name])
    return out


def _all_at_once(
    fetch: Callable[[Connection, Found], Records],
) -> Callable[[Connection, Found, Any, int], tuple[Records, Any]]:
    def read(conn: Connection, found: Found, _position: Any, _limit: int) -> tuple[Records, Any]:
        return fetch(conn, found), None

    return read


# -- sessions and events -------------------------------------------------------------------


def _sessions(conn: Connection, found: Found, position: Any, limit: int) -> tuple[Records, Any]:
    start = position or 0
    rows = q.session_rows(conn, found.sids[start : start + limit])
    records = [to_model(row, found.now).model_dump(mode="json") for row in rows]
    more = start + limit < len(found.sids)
    return records, (start + limit if more else None)


def _instant(ms: int | None, _seconds: dict[int, str] = {}) -> str | None:  # noqa: B006
    """``iso(ms)``, fast: an export renders two per event, and events share their seconds."""
    if ms is None:
        return None
    second, milli = divmod(ms, 1000)
    prefix = _seconds.get(second)
    if prefix is None:
        if len(_seconds) > 100_000:
            _seconds.clear()
        prefix = _seconds[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{prefix}.{milli:03d}Z"


def _properties(stored: str) -> Any:
    """Stored properties as they go into the export: JSON text embedded as it is, a sealed
    value opened."""
    if stored.startswith('"'):  # a JSON string: sealed properties
        return crypto.open_json(orjson.loads(stored), "events.properties")
    return orjson.Fragment(stored)


def _events(conn: Connection, found: Found, position: Any, limit: int) -> tuple[Records, Any]:
    index, after = position or (0, None)
    records: Records = []
    while index < len(found.sids) and len(records) < limit:
        sid = found.sids[index]
        rows = q.session_events(conn, sid, limit - len(records), after)
        session_id = found.session_ids[sid]
        for row in rows:
            records.append(
                {
                    "id": row["id"],
                    "session_id": session_id,
                    "type": row["name"],
                    "timestamp": _instant(row["occurred_at"]),
                    "received_at": _instant(row["received_at"]),
                    "url": row["url"],
                    "path": row["path"],
                    "title": row["title"],
                    "referrer": row["referrer"],
                    "properties": _properties(row["properties"]),
                }
            )
        if len(records) < limit:
            index, after = index + 1, None
        else:
            last = rows[-1]
            after = (last["occurred_at"], last["eid"])
    return records, ((index, after) if index < len(found.sids) else None)


def _count(table: Any) -> Callable[[Connection, Found], int]:
    def count(conn: Connection, found: Found) -> int:
        return q.count_rows(conn, table, found.sids)

    return count


# -- what hangs off sessions -----------------------------------------------------------------


def _messages(conn: Connection, found: Found, position: Any, limit: int) -> tuple[Records, Any]:
    rows = q.rows_of_sessions(conn, messages, found.sids, limit, position)
    records = [
        {
            "id": row["id"],
            "session_id": found.session_ids[row["session_sid"]],
            "role": row["role"],
            "content": crypto.open_text(row["content"], "messages.content"),
            "metadata": row["meta"],
            "created_at": iso(row["created_at"]),
        }
        for row in rows
    ]
    return records, (rows[-1]["seq"] if len(rows) == limit else None)


def _owned(conn: Connection, found: Found, table: Any) -> Sequence[Mapping[Any, Any]]:
    return q.rows_of_sessions(conn, table, found.sids, 10**9, None)


def _preferences(conn: Connection, found: Found) -> Records:
    return [
        {
            "session_id": found.session_ids[row["session_sid"]],
            "preferences": row["preferences"],
            "updated_at": iso(row["updated_at"]),
        }
        for row in _owned(conn, found, session_memory)
    ]


def _state_value(stored: Any) -> Any:
    # Stored wrapped as {"v": value} (and sealed when encryption at rest is on).
    opened = crypto.open_json(stored, "state.value")
    return opened["v"] if isinstance(opened, dict) and set(opened) == {"v"} else opened


def _state(conn: Connection, found: Found) -> Records:
    records = [
        {
            "scope": "session",
            "session_id": found.session_ids[row["session_sid"]],
            "key": row["key"],
            "value": _state_value(row["value"]),
            "expires_at": iso(row["expires_at"]),
            "updated_at": iso(row["updated_at"]),
        }
        for row in _owned(conn, found, state_table)
    ]
    if found.user_id is not None:
        records.extend(
            {
                "scope": "user",
                "user_id": found.user_id,
                "key": row["key"],
                "value": _state_value(row["value"]),
                "expires_at": iso(row["expires_at"]),
                "updated_at": iso(row["updated_at"]),
            }
            for row in q.user_state(conn, found.app_id, found.user_id)
        )
    return records


def _count_state(conn: Connection, found: Found) -> int:
    user = len(q.user_state(conn, found.app_id, found.user_id)) if found.user_id else 0
    return q.count_rows(conn, state_table, found.sids) + user


def _cart(conn: Connection, found: Found) -> Records:
    return [
        {
            "session_id": found.session_ids[row["session_sid"]],
            **{k: row[k] for k in ("sku", "name", "category", "price", "quantity")},
            "metadata": row["meta"],
            "added_at": iso(row["added_at"]),
            "updated_at": iso(row["updated_at"]),
        }
        for row in _owned(conn, found, cart_items)
    ]


def _cached(conn: Connection, found: Found) -> Records:
    return [
        {
            "session_id": found.session_ids[row["session_sid"]],
            "prompt": row["prompt"],
            "response": row["response"],
            "metadata": row["meta"],
            "hits": row["hits"],
            "created_at": iso(row["created_at"]),
            "expires_at": iso(row["expires_at"]),
        }
        for row in _owned(conn, found, response_cache)
    ]


def _shares(conn: Connection, found: Found) -> Records:
    return [
        {
            "id": row["id"],
            "session_id": found.session_ids[row["session_sid"]],
            "created_at": iso(row["created_at"]),
            "expires_at": iso(row["expires_at"]),
            "revoked_at": iso(row["revoked_at"]),
        }
        for row in _owned(conn, found, shares)
    ]


# -- the subject itself --------------------------------------------------------------------


def _devices(conn: Connection, found: Found) -> Records:
    return [
        {"device_id": r["device_id"], "user_id": r["user_id"], "linked_at": iso(r["linked_at"])}
        for r in q.links(conn, found.app_id, found.user_id, found.devices)
    ]


def _consent(conn: Connection, found: Found) -> Records:
    return [
        {
            "subject_kind": r["subject_kind"],
            "subject_id": r["subject_id"],
            "purpose": r["purpose"],
            "granted": bool(r["granted"]),
            "source": r["source"],
            "updated_at": iso(r["updated_at"]),
        }
        for r in pq.records(conn, found.app_id, found.subjects())
    ]


def _consent_log(conn: Connection, found: Found, position: Any, limit: int) -> tuple[Records, Any]:
    rows = pq.log_page(conn, found.app_id, found.subjects(), limit, position)
    records = [
        {
            "subject_kind": r["subject_kind"],
            "subject_id": r["subject_id"],
            "purpose": r["purpose"],
            "granted": bool(r["granted"]),
            "source": r["source"],
            "actor": r["actor"],
            "at": iso(r["at"]),
        }
        for r in rows
    ]
    return records, (rows[-1]["seq"] if len(rows) == limit else None)


def _patterns(conn: Connection, found: Found) -> Records:
    if found.user_id is None:
        return []
    return [
        _times({k: v for k, v in row.items() if k != "app_id"}, "computed_at")
        for row in q.pattern(conn, found.app_id, found.user_id)
    ]


def _counted(fetch: Callable[[Connection, Found], Records]) -> Callable[[Connection, Found], int]:
    return lambda conn, found: len(fetch(conn, found))


def _log_count(conn: Connection, found: Found) -> int:
    return len(pq.log_page(conn, found.app_id, found.subjects(), 10**9, None))


for _section in (
    Section(
        "sessions",
        "Each visit, conversation or work session: when it started, was last active and ended, "
        "the device, entry page, source, rough location (country/region/city, never the IP) "
        "and counters.",
        _sessions,
        lambda conn, found: len(found.sids),
    ),
    Section(
        "events",
        "What happened in those sessions, in order: page views, actions, errors, conversions "
        "and custom events, with the page and the properties the app sent.",
        _events,
        _count(events),
        page=10_000,
    ),
    Section(
        "messages",
        "Conversation turns in those sessions: who spoke (role), what was said, and metadata.",
        _messages,
        _count(messages),
    ),
    Section(
        "preferences",
        "Preferences kept for each conversation session.",
        _all_at_once(_preferences),
        _count(session_memory),
    ),
    Section(
        "state",
        "Key/value data the app kept for those sessions and for the user.",
        _all_at_once(_state),
        _count_state,
    ),
    Section(
        "cart",
        "Shopping cart items of those sessions.",
        _all_at_once(_cart),
        _count(cart_items),
    ),
    Section(
        "cached_answers",
        "Answers cached for prompts asked in those sessions.",
        _all_at_once(_cached),
        _count(response_cache),
    ),
    Section(
        "shares",
        "Read-only share links made of those conversations (the links' secrets are not kept).",
        _all_at_once(_shares),
        _count(shares),
    ),
    Section(
        "devices",
        "Devices linked to the user when they identified themselves (cross-device history).",
        _all_at_once(_devices),
        _counted(_devices),
    ),
    Section(
        "consent",
        "The current consent answers, per purpose, of the user and their devices.",
        _all_at_once(_consent),
        _counted(_consent),
    ),
    Section(
        "consent_log",
        "Every consent change: what was granted or withdrawn, when, by whom and how "
        "(api, tracker, gpc).",
        _consent_log,
        _log_count,
    ),
    Section(
        "patterns",
        "The usage pattern computed from the user's sessions (e.g. regular, power user).",
        _all_at_once(_patterns),
        _counted(_patterns),
    ),
):
    register_section(_section)
