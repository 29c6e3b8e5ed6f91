"""Data subjects: find everything about a user or device, export it (GDPR Art. 15/20) and
erase it (Art. 17).

What is exported and erased is a registry of sections (``SECTIONS``): each names a kind of
record, says what it means, reads the subject's records a page at a time, counts them and,
for tables that do not hang off a session, erases them. A capability that stores personal
data adds its section with ``register_section``. Rows that belong to a session (events,
messages, cart, state …: ``SESSION_CHILD_TABLES``) are erased with the session.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection

from sessionhub.clock import from_ms, iso
from sessionhub.core import subject_sections_more  # noqa: F401  (registers its sections)
from sessionhub.core.analytics import calendar as cal
from sessionhub.core.analytics.query import base_scope, settings_key
from sessionhub.core.analytics.rollups import _runs
from sessionhub.core.audit import record_audit, subject_ref
from sessionhub.core.retention import intact_from
from sessionhub.core.subject_sections import SECTIONS, Found, Section, register_section
from sessionhub.ids import new_id
from sessionhub.models.privacy import Erasure, SubjectIn, SubjectSummary
from sessionhub.storage import privacy as pq
from sessionhub.storage import privacy_subjects as q
from sessionhub.storage.analytics import queries as aq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

__all__ = ["SECTIONS", "Found", "Section", "Subjects", "recompute_days", "register_section"]

EVENTS_PER_DELETE = 20_000  # events deleted per transaction while erasing


async def recompute_days(engine: Engine, app_id: str, days: set[int]) -> int:
    """Recompute the rollups of ``days`` that have them, from the sessions stored now; days
    left without sessions lose their rollups. Days past the retention horizon (their raw
    data is gone) keep theirs. How many days changed."""
    if not days:
        return 0
    db = engine.db
    settings = await engine.apps.settings(app_id)
    zone = ZoneInfo(settings.timezone)
    now = engine.clock.now_ms()
    known = await db.read(aq.rolled_days, app_id, min(days), max(days) + 1)
    horizon = intact_from(settings, zone, now)
    targets = sorted(d for d in days if d in known and (horizon is None or d >= horizon))
    key = settings_key(settings)
    changed = 0
    for run in _runs(targets):
        lo, hi = cal.day_start(zone, run[0]), cal.day_start(zone, run[-1] + 1)
        seen = await db.read(aq.fingerprints, base_scope(app_id, settings, lo, hi, db.dialect), now)
        scope = base_scope(app_id, settings, lo, hi, db.dialect, dimensions=("kind",))
        rows, sets = await db.read(aq.rollup_days, scope, heavy=True)
        present = {day: seen[day] for day in run if day in seen}
        await db.write(aq.replace_days, app_id, present, rows, sets, key, now)
        gone = [day for day in run if day not in seen]
        if gone:
            await db.write(aq.drop_days, app_id, gone)
        changed += len(run)
    return changed


@dataclass
class _Request:
    """One export or erasure being served: for the audit log and the privacy report."""

    app_id: str
    kind: str
    subject: str
    actor: str
    started: float = field(default_factory=time.perf_counter)
    started_ms: int = 0

    def row(self, records: int) -> dict[str, Any]:
        return {
            "id": new_id("dsr"),
            "app_id": self.app_id,
            "kind": self.kind,
            "subject_ref": subject_ref(self.subject),
            "actor": self.actor,
            "records": records,
            "started_at": self.started_ms,
            "duration_ms": int((time.perf_counter() - self.started) * 1000),
        }


def _served(conn: Connection, request: _Request, records: int, details: dict[str, Any]) -> None:
    pq.add_request(conn, request.row(records))
    record_audit(
        conn,
        now=request.started_ms,
        app_id=request.app_id,
        actor=request.actor,
        action=f"subject.{request.kind}",
        target=subject_ref(request.subject),
        details=details,
    )


def _erase(
    conn: Connection, found: Found, request: _Request, now: int
) -> tuple[dict[str, int], dict[str, int]]:
    """The erasure's one transaction: find the subject again (what arrived since is
    included), count, make it disappear, log it; (removed, counts)."""
    resolved = q.resolve(conn, found.app_id, found.user_id, found.device_id)
    found.sessions, found.devices = resolved["sessions"], resolved["devices"]
    found.users = resolved["users"]
    found.__post_init__()
    counts = _count_all(conn, found)
    removed = q.erase_subject(conn, found.app_id, found.user_id, found.devices, found.sids, now)
    for section in SECTIONS:
        if section.erase is not None:
            section.erase(conn, found)
    _served(conn, request, sum(counts.values()), {"records": counts})
    return removed, counts


class Subjects:
    """Find, export and erase everything stored about a user or a device."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def _found(self, app_id: str, subject: SubjectIn) -> Found:
        await self._engine.apps.settings(app_id)  # 404 for an unknown app
        resolved = await self._engine.db.read(
            q.resolve, app_id, subject.user_id, subject.device_id, heavy=True
        )
        return Found(
            app_id=app_id,
            user_id=subject.user_id,
            device_id=subject.device_id,
            sessions=resolved["sessions"],
            devices=resolved["devices"],
            users=resolved["users"],
            now=self._engine.clock.now_ms(),
        )

    async def counts(self, found: Found) -> dict[str, int]:
        return await self._engine.db.read(_count_all, found, heavy=True)

    async def find(self, app_id: str, subject: SubjectIn) -> SubjectSummary:
        """Everything stored about the subject, counted per export section."""
        found = await self._found(app_id, subject)
        starts = [row["started_at"] for row in found.sessions]
        last = [row["last_activity_at"] for row in found.sessions]
        return SubjectSummary(
            user_id=subject.user_id,
            device_id=subject.device_id,
            devices=found.devices,
            users=found.users,
            first_seen=from_ms(min(starts)) if starts else None,
            last_seen=from_ms(max(last)) if last else None,
            records=await self.counts(found),
        )

    async def export(
        self, app_id: str, subject: SubjectIn, *, actor: str = "api"
    ) -> AsyncIterator[bytes]:
        """The subject's records as one JSON document, in chunks: a section per kind of
        record, each with what it means. The request is logged when the stream ends."""
        request = _Request(app_id, "export", _subject_id(subject), actor)
        request.started_ms = self._engine.clock.now_ms()
        found = await self._found(app_id, subject)
        return self._stream(found, request)

    async def _stream(self, found: Found, request: _Request) -> AsyncIterator[bytes]:
        db = self._engine.db
        head = {
            "app_id": found.app_id,
            "user_id": found.user_id,
            "device_id": found.device_id,
            "exported_at": iso(found.now),
        }
        yield orjson.dumps(head)[:-1] + b',"sections":{'
        counts: dict[str, int] = {}
        for index, section in enumerate(SECTIONS):
            opening = orjson.dumps(section.name) + b':{"description":'
            yield (b"," if index else b"") + opening + orjson.dumps(section.description)
            yield b',"records":['
            written = 0
            position: Any = None
            while True:
                records, position = await db.read(
                    section.read, found, position, section.page, heavy=True
                )
                if records:
                    yield (b"," if written else b"") + orjson.dumps(records)[1:-1]
                    written += len(records)
                if position is None:
                    break
            counts[section.name] = written
            yield b"]}"
        yield b"}}\n"
        await db.write(_served, request, sum(counts.values()), {"records": counts})

    async def erase(self, app_id: str, subject: SubjectIn, *, actor: str = "api") -> Erasure:
        """Remove the subject from every table; running sessions end at once (their ids stop
        working), rollups of the days they touched are recomputed. Data that arrives later
        under the same id starts from nothing."""
        engine = self._engine
        request = _Request(app_id, "erase", _subject_id(subject), actor)
        request.started_ms = engine.clock.now_ms()
        found = await self._found(app_id, subject)
        removed, counts = await engine.db.write(_erase, found, request, request.started_ms)
        sids = found.sids
        while sids and await engine.db.write(q.delete_events_chunk, sids, EVENTS_PER_DELETE) >= (
            EVENTS_PER_DELETE
        ):
            pass
        if sids:
            await engine.db.write(q.purge_sessions, sids)
        zone = ZoneInfo((await engine.apps.settings(app_id)).timezone)
        days = {cal.local_day(zone, row["started_at"]) for row in found.sessions}
        recomputed = await recompute_days(engine, app_id, days)
        return Erasure(
            user_id=subject.user_id,
            device_id=subject.device_id,
            sessions_revoked=removed.get("running", 0),
            records=counts,
            days_recomputed=recomputed,
            duration_s=round(time.perf_counter() - request.started, 3),
        )


def _subject_id(subject: SubjectIn) -> str:
    return subject.user_id if subject.user_id is not None else subject.device_id or ""


def _count_all(conn: Connection, found: Found) -> dict[str, int]:
    return {section.name: section.count(conn, found) for section in SECTIONS}
