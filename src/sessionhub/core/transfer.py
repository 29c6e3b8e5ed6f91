"""Export and import of sessions and events: JSONL or CSV out, JSONL in, idempotently.

An export is a stream of records, one per line, each with ``"record": "session"`` or
``"record": "event"`` and the same fields the API returns. Import takes the same lines
(or hand-made ones in the documented shape, e.g. sessions a client kept in localStorage)
and adds what is not there yet: importing a file twice changes nothing. Imported
sessions keep their counters; imported events are history and don't count again.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from sessionhub.clock import to_ms
from sessionhub.core.events import event_model
from sessionhub.core.sessions import to_model
from sessionhub.errors import InvalidInput
from sessionhub.models import AppSettings
from sessionhub.models.common import SESSION_ID_PATTERN
from sessionhub.models.events import ExportFormat, ExportKind, ImportRejected, ImportResult
from sessionhub.storage import transfer as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

PAGE = 1000
IMPORT_CHUNK = 500
SESSION_STATUSES = {"active", "ended"}


async def count_records(engine: Engine, app_id: str, kind: ExportKind, start: int, end: int) -> int:
    """How many records an export of this range will hold (for progress bars)."""
    counter = q.count_sessions if kind == "sessions" else q.count_events
    return await engine.db.read(counter, app_id, start, end, heavy=True)


async def export_records(
    engine: Engine, app_id: str, kind: ExportKind, start: int, end: int
) -> AsyncIterator[dict[str, Any]]:
    """Yield every session (by start) or event (by time) of the app in [start, end)."""
    await engine.apps.get(app_id)
    after: tuple[int, int] | None = None
    while True:
        now = engine.clock.now_ms()
        if kind == "sessions":
            rows = await engine.db.read(
                q.sessions_page, app_id, start, end, after, PAGE, heavy=True
            )
            for row in rows:
                yield {"record": "session", **to_model(row, now).model_dump(mode="json")}
            key = ("started_at", "sid")
        else:
            rows = await engine.db.read(q.events_page, app_id, start, end, after, PAGE, heavy=True)
            for row in rows:
                yield {
                    "record": "event",
                    **event_model(row, row["session_public_id"]).model_dump(mode="json"),
                }
            key = ("occurred_at", "eid")
        if len(rows) < PAGE:
            return
        after = (rows[-1][key[0]], rows[-1][key[1]])


async def render(records: AsyncIterator[dict[str, Any]], fmt: ExportFormat) -> AsyncIterator[bytes]:
    """Serialize records as JSON lines, or as CSV with nested fields flattened."""
    header: list[str] | None = None
    async for record in records:
        if fmt == "jsonl":
            yield orjson.dumps(record) + b"\n"
            continue
        flat = _flatten(record)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if header is None:
            header = list(flat)
            writer.writerow(header)
        writer.writerow([flat.get(column, "") for column in header])
        yield buffer.getvalue().encode()


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in ("metadata", "properties"):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, dict | list):
            flat[name] = orjson.dumps(value).decode()
        else:
            flat[name] = "" if value is None else value
    return flat


# -- import -------------------------------------------------------------------------------


@dataclass
class _Chunk:
    sessions: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def _time(record: dict[str, Any], name: str, required: bool = False) -> int | None:
    value = record.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be an ISO 8601 time.")
    try:
        return to_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidInput(f"{name} {value!r} is not an ISO 8601 time.") from exc


def _text(record: dict[str, Any], *path: str, limit: int = 2048) -> str | None:
    value: Any = record
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{'.'.join(path)} must be a string.")
    return value[:limit]


def _count(record: dict[str, Any], name: str) -> int:
    value = record.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{name} must be a whole number >= 0.")
    return value


def session_row(app_id: str, record: dict[str, Any], settings: AppSettings) -> dict[str, Any]:
    """A session row from an exported (or hand-made) session record."""
    session_id = record.get("id")
    if not isinstance(session_id, str) or not re.fullmatch(SESSION_ID_PATTERN, session_id):
        raise InvalidInput("id must be a session id (letters, digits and . _ : -, at most 200).")
    kind = record.get("kind", "visit")
    if kind not in ("visit", "conversation", "work"):
        raise InvalidInput("kind must be visit, conversation or work.")
    started = _time(record, "started_at", required=True)
    assert started is not None
    last = _time(record, "last_activity_at") or started
    ended = _time(record, "ended_at")
    status = record.get("status", "ended" if ended is not None else "active")
    if status not in SESSION_STATUSES:
        raise InvalidInput("status must be active or ended.")
    if last < started or (ended is not None and ended < started):
        raise InvalidInput("times must not come before started_at.")
    metadata = record.get("metadata", {})
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be an object.")
    idle, absolute = settings.limits_ms(kind)
    location = record.get("location") or {}
    idle_expires_at = last + idle if idle is not None else None
    return {
        "app_id": app_id,
        "id": session_id,
        "kind": kind,
        "status": status,
        "end_reason": (_text(record, "end_reason", limit=20) or "logout")
        if status == "ended"
        else None,
        "user_id": _text(record, "user_id", limit=200),
        "device_id": _text(record, "device_id", limit=200),
        "started_at": started,
        "last_activity_at": last,
        "ended_at": (ended or last) if status == "ended" else None,
        "idle_timeout_ms": idle,
        "idle_expires_at": idle_expires_at,
        "idle_check_at": idle_expires_at,
        "expires_at": started + absolute if absolute is not None else None,
        "meta": metadata,
        "device_type": _text(record, "device", "type", limit=20),
        "browser": _text(record, "device", "browser", limit=100),
        "os": _text(record, "device", "os", limit=100),
        "screen": _text(record, "device", "screen", limit=20),
        "entry_page": _text(record, "entry_page"),
        "exit_page": _text(record, "exit_page"),
        "referrer": _text(record, "referrer"),
        "utm_source": _text(record, "campaign", "source", limit=200),
        "utm_medium": _text(record, "campaign", "medium", limit=200),
        "utm_campaign": _text(record, "campaign", "name", limit=200),
        "utm_term": _text(record, "campaign", "term", limit=200),
        "utm_content": _text(record, "campaign", "content", limit=200),
        "last_action": _text(record, "last_action", limit=200),
        "source": _text(record, "source", limit=200),
        "medium": _text(record, "medium", limit=50),
        "referrer_domain": _text(record, "referrer_domain", limit=253),
        "country": _text(location, "country", limit=2) if isinstance(location, dict) else None,
        "region": _text(location, "region", limit=100) if isinstance(location, dict) else None,
        "city": _text(location, "city", limit=100) if isinstance(location, dict) else None,
        "is_bot": bool(record.get("is_bot", False)),
        "page_views": _count(record, "page_views"),
        "event_count": _count(record, "events"),
        "action_count": _count(record, "actions"),
        "error_count": _count(record, "errors"),
        "conversion_count": _count(record, "conversions"),
        "workflow_starts": _count(record, "workflow_starts"),
        "workflow_completes": _count(record, "workflow_completes"),
        "engaged_ms": int(float(record.get("engaged_s", 0) or 0) * 1000),
        "last_event_at": None,
        "deleted_at": None,
    }


def event_row(app_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """An event row (without its session's sid) from an exported event record."""
    event_id = record.get("id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 64:
        raise InvalidInput("id must be a string of 1 to 64 characters.")
    if not isinstance(record.get("session_id"), str):
        raise InvalidInput("session_id is required.")
    name = record.get("type")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise InvalidInput("type must be a string of 1 to 100 characters.")
    occurred = _time(record, "timestamp", required=True)
    assert occurred is not None
    properties = record.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidInput("properties must be an object.")
    since = record.get("seconds_since_previous")
    if since is not None and not isinstance(since, int | float):
        raise InvalidInput("seconds_since_previous must be a number.")
    return {
        "app_id": app_id,
        "id": event_id,
        "name": name,
        "occurred_at": occurred,
        "received_at": _time(record, "received_at") or occurred,
        "url": _text(record, "url"),
        "path": _text(record, "path"),
        "title": _text(record, "title", limit=500),
        "referrer": _text(record, "referrer"),
        "properties": properties,
        "since_prev_ms": round(since * 1000) if since is not None else None,
    }


def _write_chunk(
    conn: Any, app_id: str, chunk: _Chunk
) -> tuple[int, int, int, list[tuple[int, str]]]:
    sessions_added = q.insert_sessions(conn, chunk.sessions)
    wanted = sorted({row["_session_id"] for _, row in chunk.events})
    sids = q.session_sids(conn, app_id, wanted)
    ready, missing = [], []
    for line, row in chunk.events:
        sid = sids.get(row["_session_id"])
        if sid is None:
            missing.append((line, row["_session_id"]))
            continue
        ready.append({k: v for k, v in row.items() if k != "_session_id"} | {"session_sid": sid})
    events_added = q.insert_events(conn, ready)
    unchanged = (len(chunk.sessions) - sessions_added) + (len(ready) - events_added)
    return sessions_added, events_added, unchanged, missing


async def import_lines(
    engine: Engine, app_id: str, lines: Iterable[bytes | str], on_progress: Any = None
) -> ImportResult:
    """Import JSONL records into an app; report the lines that were rejected and why."""
    settings = await engine.apps.settings(app_id)
    result = ImportResult(sessions=0, events=0, unchanged=0, rejected=[])
    chunk = _Chunk()

    async def flush() -> None:
        nonlocal chunk
        if not chunk.sessions and not chunk.events:
            return
        added_s, added_e, unchanged, missing = await engine.db.write(_write_chunk, app_id, chunk)
        result.sessions += added_s
        result.events += added_e
        result.unchanged += unchanged
        for line, session_id in missing:
            result.rejected.append(
                ImportRejected(
                    line=line,
                    code="not_found",
                    message=f"No session {session_id!r} for this event.",
                )
            )
        if on_progress is not None:
            on_progress(len(chunk.sessions) + len(chunk.events))
        chunk = _Chunk()

    for number, raw in enumerate(lines, start=1):
        text = raw.strip() if isinstance(raw, str) else raw.strip().decode("utf-8", "replace")
        if not text:
            continue
        try:
            record = orjson.loads(text)
            if not isinstance(record, dict):
                raise InvalidInput("the line is not a JSON object.")
            kind = record.get("record")
            if kind == "session":
                chunk.sessions.append(session_row(app_id, record, settings))
            elif kind == "event":
                row = event_row(app_id, record)
                row["_session_id"] = record["session_id"]
                if engine.encryption.sealer is not None:
                    row["properties"] = engine.encryption.sealer.seal_json(
                        row["properties"], "events.properties"
                    )
                chunk.events.append((number, row))
            else:
                raise InvalidInput('record must be "session" or "event".')
        except orjson.JSONDecodeError:
            result.rejected.append(
                ImportRejected(line=number, code="bad_request", message="not valid JSON")
            )
            continue
        except InvalidInput as exc:
            result.rejected.append(ImportRejected(line=number, code=exc.code, message=exc.message))
            continue
        if len(chunk.sessions) + len(chunk.events) >= IMPORT_CHUNK:
            await flush()
    await flush()
    result.rejected.sort(key=lambda r: r.line)
    return result
