"""Event ingestion: check each event, sessionize, store once, and keep sessions' counters.

A batch is checked event by event, so the good ones are stored when others are bad. The
accepted ones are written in one transaction through the group-commit writer: the call
returns only once they are committed. Each event's id is unique per app, so a batch
sent twice stores each event once. An event without a session id joins its device's (or
user's) running session, or starts one: a tracker that never manages sessions still
gets correct ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from sessionhub import crypto
from sessionhub.clock import from_ms, to_ms
from sessionhub.core import consent
from sessionhub.core.attribution import campaign_params, own_hosts, page_path, start_attributes
from sessionhub.core.pagination import check_limit, decode_cursor, encode_cursor
from sessionhub.core.personalization.profiles import absorb as absorb_profiles
from sessionhub.core.session_rows import not_found
from sessionhub.core.sessions import ENGAGEMENT_GAP_MS, effective_end, new_session_row
from sessionhub.enrich.client import ClientInfo
from sessionhub.errors import InvalidInput, SessionEnded, SessionhubError
from sessionhub.ids import new_id
from sessionhub.models import AppSettings, Page
from sessionhub.models.common import unstorable
from sessionhub.models.events import (
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_DEPTH,
    Event,
    EventIn,
    IngestResult,
    RejectedEvent,
)
from sessionhub.storage import events as q
from sessionhub.storage import sessions as sq
from sessionhub.storage.dialect import lock_key
from sessionhub.storage.prepared import sqlite_savepoint

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

FUTURE_SLACK_MS = 5 * 60_000
_COUNTERS = {
    "page_view": "page_views",
    "action": "action_count",
    "error": "error_count",
    "conversion": "conversion_count",
    "workflow_start": "workflow_starts",
    "workflow_complete": "workflow_completes",
}


@dataclass(slots=True)
class Prepared:
    """An event that passed its checks, ready for the writer (``prepare`` builds it by position)."""

    index: int
    id: str
    session_id: str | None
    device_id: str | None
    user_id: str | None
    name: str
    occurred_at: int
    url: str | None
    path: str | None
    title: str | None
    referrer: str | None
    properties: dict[str, Any]
    properties_json: str = "{}"  # as stored: with encryption at rest, the sealed text as JSON
    server_id: bool = False  # the client sent no id: this one is new, nothing to look up
    dedupe_by_id: bool = False  # the client sent an id but no time (see ``storage.schema``)
    seed: dict[str, Any] | None = None  # a new session's attributes, for sessionized events


# A batch comes in index order and ``sorted`` is stable: sorting on the time alone puts the
# events in (time, index) order without building a key tuple for each.
_BY_TIME = attrgetter("occurred_at")


@dataclass(frozen=True, slots=True)
class Policy:
    """How the writer treats a batch."""

    settings: AppSettings
    gpc: bool = False  # the request sent Sec-GPC: 1 (an opt-out of sale/sharing)


@dataclass(slots=True)
class Stored:
    """What the writer did with a batch's events."""

    accepted: int = 0
    duplicates: int = 0
    refused: list[tuple[int, SessionhubError]] = field(default_factory=list)  # (index, why)
    first: dict[str, int] = field(default_factory=dict)  # each session's first event's index


def _depth(value: Any, limit: int) -> int:
    if limit < 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0


_EVENT = TypeAdapter(EventIn)
_BATCH = TypeAdapter(list[EventIn])


def validate_events(
    raws: list[Any], session_id: str | None = None
) -> list[EventIn | SessionhubError]:
    """Validate a batch in one pass; only when that fails, event by event to say which and why."""
    if session_id is None:
        try:  # the usual batch: every item an object, and valid
            return list(_BATCH.validate_python(raws))
        except ValidationError:
            pass
    staged: list[dict[str, Any] | SessionhubError] = []
    for index, raw in enumerate(raws):
        if not isinstance(raw, dict):
            staged.append(InvalidInput(f"events[{index}] is not a JSON object."))
        elif session_id is None or raw.get("session_id") == session_id:
            staged.append(raw)
        elif raw.get("session_id") is None:
            staged.append({**raw, "session_id": session_id})
        else:
            staged.append(
                InvalidInput(
                    f"events[{index}].session_id differs from the session in the path.",
                    details={"field": "session_id"},
                )
            )
    plain = [item for item in staged if isinstance(item, dict)]
    # What the database can hold is ``prepare``'s to check: every field of a valid event
    # but ``properties`` is a scalar, and ``prepare`` encodes the properties anyway. The
    # batch is tried whole again only if it differs from the one tried above.
    if session_id is not None or len(plain) < len(raws):
        try:
            valid = iter(_BATCH.validate_python(plain))
            return [next(valid) if isinstance(item, dict) else item for item in staged]
        except ValidationError:
            pass
    checked: list[EventIn | SessionhubError] = []
    for index, item in enumerate(staged):
        if not isinstance(item, dict):
            checked.append(item)
            continue
        problem = unstorable(item)
        if problem is not None:
            checked.append(
                InvalidInput(f"events[{index}]: {problem}", details={"field": f"events.{index}"})
            )
            continue
        try:
            checked.append(_EVENT.validate_python(item))
        except ValidationError as exc:
            checked.append(InvalidInput.from_validation(exc, prefix=("events", index)))
    return checked


def prepare(index: int, event: EventIn, now: int, settings: AppSettings) -> Prepared:
    """Check a validated event against the rules and normalize it; raise what rejects it."""
    session_id = event.get("session_id")
    device_id = event.get("device_id")
    user_id = event.get("user_id")
    url = event.get("url")
    path = event.get("path")
    title = event.get("title")
    referrer = event.get("referrer")
    properties = event.get("properties", {})
    unencodable: str | None = None  # why the properties are not JSON
    encoded = b""
    if not isinstance(properties, dict):
        unencodable = f"got {type(properties).__name__}"
    else:
        try:
            encoded = orjson.dumps(properties)
        except TypeError as exc:
            unencodable = str(exc)
    properties_json = encoded.decode()  # searched as text: ``in`` on bytes is 7x slower
    # Storable: no NUL in the free text (the other strings match patterns without one), and
    # properties orjson encodes without one. The rare event that fails is walked to say where.
    if (
        unencodable is not None
        or "\\u0000" in properties_json
        or "\x00" in (device_id or "")
        or "\x00" in (user_id or "")
        or "\x00" in (url or "")
        or "\x00" in (path or "")
        or "\x00" in (title or "")
        or "\x00" in (referrer or "")
    ):
        problem = unstorable(event)
        if problem is not None:
            raise InvalidInput(f"events[{index}]: {problem}", details={"field": f"events.{index}"})
        if unencodable is not None:  # from a caller in-process: JSON has no other keys or values
            raise InvalidInput(
                f"events[{index}].properties must be a JSON object ({unencodable}).",
                details={"field": "properties"},
            )
    if session_id is None and device_id is None and user_id is None:
        raise InvalidInput(
            f"events[{index}] needs a session_id, or a device_id or user_id to be sessionized.",
            details={"field": "session_id"},
        )
    if len(encoded) > MAX_PROPERTIES_BYTES:
        raise InvalidInput(
            f"events[{index}].properties is {len(encoded)} bytes; the limit is {MAX_PROPERTIES_BYTES}.",
            details={"field": "properties", "bytes": len(encoded), "limit": MAX_PROPERTIES_BYTES},
            code="payload_too_large",
        )
    # Fewer brackets than the limit can't nest deeper than it: walk only the rare others.
    brackets = encoded.count(b"{") + encoded.count(b"[")
    if (
        brackets > MAX_PROPERTIES_DEPTH
        and _depth(properties, MAX_PROPERTIES_DEPTH) > MAX_PROPERTIES_DEPTH
    ):
        raise InvalidInput(
            f"events[{index}].properties nests deeper than {MAX_PROPERTIES_DEPTH} levels.",
            details={"field": "properties"},
        )
    timestamp = event.get("timestamp")
    occurred = to_ms(timestamp) if timestamp is not None else now
    if occurred > now + FUTURE_SLACK_MS:
        raise InvalidInput(
            f"events[{index}].timestamp is more than 5 minutes in the future.",
            details={"field": "timestamp"},
            code="invalid_timestamp",
        )
    if occurred < now - settings.late_event_window_s * 1000:
        raise InvalidInput(
            f"events[{index}].timestamp is older than the app's late-arrival window "
            f"({settings.late_event_window_s} s).",
            details={"field": "timestamp"},
            code="invalid_timestamp",
        )
    client_id = event.get("id")
    # By position, in the order of the fields (each value is named after its field): by
    # keyword the call took 0.4 µs more per event, about 4 % of in-process ingestion.
    return Prepared(
        index,
        client_id.lower() if client_id else new_id("evt"),  # id
        session_id,
        device_id,
        user_id,
        event["type"],  # name
        occurred,  # occurred_at
        url,
        path or page_path(url),
        title,
        referrer,
        properties,
        properties_json,
        not client_id,  # server_id
        bool(client_id) and timestamp is None,  # dedupe_by_id
    )


def _label(event: Prepared) -> str:
    """What ``last_action`` shows: an action's own name when it has one, else the event's."""
    if event.name == "action":
        named = event.properties.get("name") or event.properties.get("action")
        if isinstance(named, str) and named:
            return named[:200]
    return event.name


def _day(ms: int, zone: ZoneInfo) -> Any:
    return datetime.fromtimestamp(ms / 1000, zone).date()


def _split_reason(state: dict[str, Any], event: Prepared, settings: AppSettings) -> str | None:
    """The end reason when the app's rules start a new session for this event, else None."""
    if settings.split_sessions_at_midnight:
        zone = ZoneInfo(settings.timezone)
        if _day(event.occurred_at, zone) != _day(state["started_at"], zone):
            return "timeout"
    if settings.split_on_campaign_change:
        campaign = campaign_params(event.url)["utm_campaign"]
        if campaign is not None and campaign != state["utm_campaign"]:
            return "navigation"
    return None


# -- the write (runs atomically in the writer) --------------------------------------------


def ingest_batch(
    conn: Connection, app_id: str, batch: list[Prepared], policy: Policy, now: int
) -> Stored:
    """Store a checked batch: resolve sessions, drop duplicates, insert, update counters.

    An event stored already (a resend), or twice in the batch, is a duplicate. PostgreSQL
    looks the batch's keys up before it writes. SQLite writes first, as if there were none:
    duplicates are rare, and the lookup cost 0.7 µs of the 12 µs an event took. The events'
    unique keys are the rule for a duplicate: when they reject the insert, the batch's writes
    are undone and it is written again after the lookup.
    """
    if conn.dialect.name == "sqlite":
        try:
            with sqlite_savepoint(conn, "ingest_batch"):
                return _store(conn, app_id, batch, policy, now, None)
        except IntegrityError:
            pass  # an event is stored already, or the write fails again below
    return _store(conn, app_id, batch, policy, now, _stored_keys(conn, app_id, batch))


def _stored_keys(conn: Connection, app_id: str, batch: list[Prepared]) -> set[q.EventKey]:
    return q.existing_keys(
        conn,
        app_id,
        [(p.occurred_at, p.id) for p in batch if not p.server_id],
        [p.id for p in batch if p.dedupe_by_id],
    )


def _store(
    conn: Connection,
    app_id: str,
    batch: list[Prepared],
    policy: Policy,
    now: int,
    seen: set[q.EventKey] | None,
) -> Stored:
    """``ingest_batch`` with ``seen``, the keys of the batch's events stored already (None:
    take every event for new, and leave duplicates to the unique keys)."""
    settings = policy.settings
    keys = sorted(
        {
            ("d", p.device_id) if p.device_id else ("u", p.user_id or "")
            for p in batch
            if p.session_id is None
        }
    )
    for kind, value in keys:  # two writers never sessionize one device at once
        lock_key(conn, f"sessionize:{app_id}:{kind}:{value}")
    named = sorted({p.session_id for p in batch if p.session_id is not None})
    states: dict[str, dict[str, Any]] = {
        row["id"]: dict(row) for row in q.sessions_for_update(conn, app_id, named)
    }
    current: dict[tuple[str, str], dict[str, Any] | None] = {}
    touched: dict[int, dict[str, Any]] = {}
    inserts: list[q.EventRow] = []
    # What profiles learn from: the events of sessions with a device or user, with their
    # properties as sent (not as stored, sealed when encrypting).
    learned: list[dict[str, Any]] = []
    stored = Stored()
    first = stored.first
    # The (device, user) pairs whose consent counts: each named session's, each sessionized event's.
    pairs = {(state["device_id"], state["user_id"]) for state in states.values()}
    pairs.update((p.device_id, p.user_id) for p in batch if p.session_id is None)
    refused = consent.refused_analytics(conn, app_id, settings.consent_mode, pairs)

    refusals: dict[str, SessionhubError | None] = {}  # by session id
    for event in sorted(batch, key=_BY_TIME):
        index = event.index
        if event.session_id is not None:
            state = states.get(event.session_id)
            if state is None:
                stored.refused.append((index, not_found(event.session_id)))
                continue
            if event.session_id not in refusals:  # the same for all its events in the batch
                refusals[event.session_id] = _refusal(state, refused, now)
            refusal = refusals[event.session_id]
            if refusal is not None:
                stored.refused.append((index, refusal))
                continue
        else:
            if (event.device_id, event.user_id) in refused:
                stored.refused.append((index, consent.no_analytics()))
                continue
            key = ("d", event.device_id) if event.device_id else ("u", event.user_id or "")
            if key not in current:
                found = sq.latest_running(
                    conn,
                    app_id,
                    now,
                    device_id=event.device_id,
                    user_id=event.user_id,
                    for_update=True,
                )
                current[key] = dict(found) if found is not None else None
            state = current[key]
            split = _split_reason(state, event, settings) if state is not None else None
            if state is not None and split is not None:
                # Keep what this batch already counted into it, then end it.
                if touched.pop(state["sid"], None) is not None:
                    q.write_counters(conn, [_counters(state)])
                sq.end(conn, state["sid"], now, split)
                state = None
            if state is None:
                state = _start_session(conn, app_id, event, settings, now)
                current[key] = state
            states[state["id"]] = state
        if first.get(state["id"], index + 1) > index:
            first[state["id"]] = index
        if seen is not None:
            timed: q.EventKey = (event.occurred_at, event.id)
            if timed in seen or (event.dedupe_by_id and (None, event.id) in seen):
                stored.duplicates += 1
                continue
            seen.add(timed)
            if event.dedupe_by_id:
                seen.add((None, event.id))
        inserts.append(_apply(state, event, now))
        if state["device_id"] or state["user_id"]:
            learned.append(
                {  # what ``Folder.fold`` reads
                    "id": event.id,
                    "session_sid": state["sid"],
                    "occurred_at": event.occurred_at,
                    "name": event.name,
                    "path": event.path,
                    "properties": event.properties,
                }
            )
        touched[state["sid"]] = state

    q.insert_events(conn, inserts)
    stored.accepted = len(inserts)
    q.write_counters(conn, [_counters(state) for state in touched.values()])
    absorb_profiles(conn, app_id, learned, states, settings, now)
    if policy.gpc:
        consent.record_gpc(conn, app_id, pairs, now)
    return stored


def _refusal(
    state: dict[str, Any], refused: set[tuple[str | None, str | None]], now: int
) -> SessionhubError | None:
    """Why a named session's events are turned away (it has ended, or no consent), or None."""
    ended = effective_end(state, now)
    if ended is not None:
        session_id, reason = state["id"], ended[0]
        return SessionEnded(
            f"Session {session_id!r} has ended ({reason}); start a new session and resend.",
            details={"session_id": session_id, "reason": reason},
        )
    if (state["device_id"], state["user_id"]) in refused:
        return consent.no_analytics()
    return None


def _start_session(
    conn: Connection, app_id: str, event: Prepared, settings: AppSettings, now: int
) -> dict[str, Any]:
    user_id = event.user_id
    if user_id is None and event.device_id is not None:
        user_id = sq.linked_user(conn, app_id, event.device_id)
    start = min(event.occurred_at, now)
    row = new_session_row(
        app_id,
        new_id("ses"),
        "visit",
        settings,
        start,
        event.seed or {},
        user_id=user_id,
        device_id=event.device_id,
    )
    stored = sq.insert_session(conn, row)
    assert stored is not None  # a fresh random id cannot collide
    return dict(stored)


def _apply(state: dict[str, Any], event: Prepared, now: int) -> q.EventRow:
    """Count the event into its session's state and return the event's row."""
    last = state["last_event_at"]
    occurred = event.occurred_at
    since = occurred - last if last is not None and occurred >= last else None
    # The activity is the event's time, within the session's start and now.
    activity = occurred if occurred < now else now
    if activity < state["started_at"]:
        activity = state["started_at"]
    if activity > state["last_activity_at"]:
        gap = activity - state["last_activity_at"]
        if gap <= ENGAGEMENT_GAP_MS:
            state["engaged_ms"] += gap
        state["last_activity_at"] = activity
        if state["idle_timeout_ms"] is not None:
            state["idle_expires_at"] = max(
                state["idle_expires_at"] or 0, activity + state["idle_timeout_ms"]
            )
    state["event_count"] += 1
    name = event.name
    counter = _COUNTERS.get(name)
    if counter is not None:
        state[counter] += 1
    if last is None or occurred >= last:
        state["last_event_at"] = occurred
        if name != "page_view":
            state["last_action"] = _label(event)
        elif event.path:
            state["exit_page"] = event.path
    return (  # in q.EVENT_COLUMNS order
        state["app_id"],
        state["sid"],
        event.id,
        name,
        occurred,
        now,
        event.url,
        event.path,
        event.title,
        event.referrer,
        event.properties_json,
        since,
        1 if event.dedupe_by_id else 0,
    )


def _counters(state: dict[str, Any]) -> dict[str, Any]:
    return {"sid": state["sid"], **{name: state[name] for name in q.COUNTER_COLUMNS}}


# -- the capability -----------------------------------------------------------------------


def event_model(row: Any, session_id: str) -> Event:
    since = row["since_prev_ms"]
    return Event(
        id=row["id"],
        session_id=session_id,
        type=row["name"],
        timestamp=from_ms(row["occurred_at"]),
        received_at=from_ms(row["received_at"]),
        url=row["url"],
        path=row["path"],
        title=row["title"],
        referrer=row["referrer"],
        properties=crypto.open_json(row["properties"], "events.properties"),
        seconds_since_previous=since / 1000 if since is not None else None,
    )


class Events:
    """Ingest events and read them back as timelines."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def ingest(
        self,
        app_id: str,
        raw_events: list[Any],
        *,
        session_id: str | None = None,
        client: ClientInfo | None = None,
    ) -> IngestResult:
        """Store a batch of events; answer what was accepted, duplicated and rejected (by index)."""
        engine = self._engine
        settings = await engine.apps.settings(app_id)
        now = engine.clock.now_ms()
        client = client or ClientInfo()
        if settings.honor_dnt and client.dnt:
            refusal = consent.no_analytics("do_not_track")
            return IngestResult(
                accepted=0,
                duplicates=0,
                rejected=[_rejection(i, refusal) for i in range(len(raw_events))],
                sessions=[],
            )
        hosts = own_hosts(settings.allowed_origins)
        rejected: list[RejectedEvent] = []
        batch: list[Prepared] = []
        for index, checked in enumerate(validate_events(raw_events, session_id)):
            try:
                if isinstance(checked, SessionhubError):
                    raise checked
                event = prepare(index, checked, now, settings)
            except SessionhubError as exc:
                rejected.append(_rejection(index, exc))
                continue
            if event.session_id is None:
                event.seed = start_attributes(event.url, event.referrer, client, engine.geo, hosts)
            batch.append(event)
        sealer = engine.encryption.sealer
        if sealer is not None:
            for event in batch:
                # Stored as a JSON string: the sealed text.
                sealed = sealer.seal_text(event.properties_json, "events.properties")
                event.properties_json = orjson.dumps(sealed).decode()
        stored = (
            await engine.db.write(
                ingest_batch, app_id, batch, Policy(settings, gpc=client.gpc), now
            )
            if batch
            else Stored()
        )
        if stored.refused:
            rejected.extend(_rejection(index, error) for index, error in stored.refused)
            rejected.sort(key=lambda r: r.index)
        return IngestResult(
            accepted=stored.accepted,
            duplicates=stored.duplicates,
            rejected=rejected,
            sessions=sorted(stored.first, key=stored.first.__getitem__),
        )

    async def timeline(
        self, app_id: str, session_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Event]:
        """A session's events in the order they happened."""
        check_limit(limit)
        after = decode_cursor(cursor)
        db = self._engine.db
        session = await db.read(sq.get, app_id, session_id)
        if session is None:
            raise not_found(session_id)
        rows = await db.read(q.timeline, session["sid"], limit + 1, after, heavy=True)
        items = [event_model(row, session_id) for row in rows[:limit]]
        return Page[Event](items=items, next_cursor=_next(rows, limit))

    async def for_user(
        self, app_id: str, user_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Event]:
        """A user's events across all their sessions and devices, oldest first."""
        check_limit(limit)
        after = decode_cursor(cursor)
        rows = await self._engine.db.read(
            q.user_events, app_id, user_id, limit + 1, after, heavy=True
        )
        items = [event_model(row, row["session_public_id"]) for row in rows[:limit]]
        return Page[Event](items=items, next_cursor=_next(rows, limit))


def _next(rows: list[Any], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last["occurred_at"], last["eid"])


def _rejection(index: int, exc: SessionhubError) -> RejectedEvent:
    return RejectedEvent(index=index, code=exc.code, message=exc.message, details=exc.details)
