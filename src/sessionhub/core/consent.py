"""Consent: per device and per user, per purpose, with an append-only log and GPC.

Purposes are ``analytics``, ``personalization``, ``marketing`` and ``fingerprinting``, plus
the CCPA ``do_not_sell`` opt-out. What applies to a session's device and user together is
the most careful answer: a refusal by either wins, then a grant by either, and without any
answer the app's consent mode decides (``opt_out``: allowed; ``required``: refused).
``do_not_sell`` is on when either opted out (a ``Sec-GPC: 1`` request header does that).

The gate functions run inside other capabilities' write transactions (event ingestion,
identify), so a withdrawal stops collection with the very next write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.analytics import calendar as cal
from sessionhub.core.audit import record_audit, subject_ref
from sessionhub.core.pagination import check_limit, decode_cursor, encode_cursor
from sessionhub.errors import ConsentRequired, InvalidInput
from sessionhub.models import Page
from sessionhub.models.privacy import (
    PURPOSES,
    ConsentIn,
    ConsentLogEntry,
    ConsentMode,
    ConsentState,
    SubjectConsent,
    SubjectKind,
)
from sessionhub.storage import privacy as q
from sessionhub.storage import sessions as sq
from sessionhub.storage.privacy import Subject

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

DO_NOT_SELL = "do_not_sell"
GPC_ACTOR = "browser:sec-gpc"


def no_analytics(reason: str = "no_consent") -> ConsentRequired:
    """The refusal of an event the subject has not consented to (or asked not to be tracked)."""
    return ConsentRequired(
        "The device or user has not consented to analytics: the event was not stored.",
        details={"purpose": "analytics", "reason": reason},
    )


def decide(mode: ConsentMode, answers: Iterable[bool | None]) -> bool:
    """Whether a purpose is allowed given the subjects' answers (None: no answer)."""
    given = [a for a in answers if a is not None]
    if False in given:
        return False
    if True in given:
        return True
    return mode == "opt_out"


# -- gates (inside other writes) -------------------------------------------------------------


def refused_analytics(
    conn: Connection, app_id: str, mode: ConsentMode, pairs: Iterable[tuple[str | None, str | None]]
) -> set[tuple[str | None, str | None]]:
    """Which (device, user) pairs may not be tracked: the ones analytics is refused for.

    A device's linked user counts when the pair names no user. In ``opt_out`` mode one
    index probe answers the usual case (nobody in the app refused anything).
    """
    wanted = set(pairs)
    if not wanted or (mode == "opt_out" and not q.any_refusal(conn, app_id, "analytics")):
        return set()
    links = q.linked_users(conn, app_id, (d for d, u in wanted if d is not None and u is None))
    subjects: set[Subject] = set()
    for device, user in wanted:
        user = user or links.get(device or "")
        if device is not None:
            subjects.add(("device", device))
        if user is not None:
            subjects.add(("user", user))
    answers = {
        (row["subject_kind"], row["subject_id"]): bool(row["granted"])
        for row in q.records(conn, app_id, subjects, "analytics")
    }
    refused = set()
    for device, user in wanted:
        linked = user or links.get(device or "")
        said = [answers.get(("device", device or "")), answers.get(("user", linked or ""))]
        if not decide(mode, said):
            refused.add((device, user))
    return refused


def may_link(
    conn: Connection, app_id: str, mode: ConsentMode, device_id: str, user_id: str
) -> bool:
    """Whether ``identify`` may link the device to the user (the ``fingerprinting`` purpose)."""
    subjects: list[Subject] = [("device", device_id), ("user", user_id)]
    said = [bool(row["granted"]) for row in q.records(conn, app_id, subjects, "fingerprinting")]
    return decide(mode, said)


def record_gpc(
    conn: Connection,
    app_id: str,
    pairs: Iterable[tuple[str | None, str | None]],
    now: int,
) -> int:
    """Opt the devices of a ``Sec-GPC: 1`` request, and the users linked to them, out of
    sale and sharing; how many subjects changed (each change logged with source gpc)."""
    subjects: set[Subject] = set()
    devices = set()
    for device, user in pairs:
        if device is not None:
            subjects.add(("device", device))
            devices.add(device)
        if user is not None:
            subjects.add(("user", user))
    subjects |= {("user", user) for user in q.linked_users(conn, app_id, devices).values()}
    changed = 0
    for subject in sorted(subjects):
        if q.set_record(conn, app_id, subject, DO_NOT_SELL, True, "gpc", GPC_ACTOR, now):
            record_audit(
                conn,
                now=now,
                app_id=app_id,
                actor=GPC_ACTOR,
                action="consent.change",
                target=subject_ref(subject[1]),
                details={"kind": subject[0], "do_not_sell": True, "source": "gpc"},
            )
            changed += 1
    return changed


# -- the capability -------------------------------------------------------------------------


def _apply(
    conn: Connection,
    app_id: str,
    subjects: list[Subject],
    answers: dict[str, bool],
    source: str,
    actor: str,
    now: int,
) -> list[int]:
    """Store the answers for each subject; the start times of sessions whose device ids were
    cleared (a withdrawal of fingerprinting)."""
    cleared: list[int] = []
    for subject in subjects:
        changed = {
            purpose: granted
            for purpose, granted in answers.items()
            if q.set_record(conn, app_id, subject, purpose, granted, source, actor, now)
        }
        if not changed:
            continue
        if changed.get("fingerprinting") is False:
            cleared.extend(q.unlink(conn, app_id, subject))
        record_audit(
            conn,
            now=now,
            app_id=app_id,
            actor=actor,
            action="consent.change",
            target=subject_ref(subject[1]),
            details={"kind": subject[0], "source": source, "purposes": changed},
        )
    return cleared


def _subject_consent(
    kind: SubjectKind, subject_id: str, rows: Sequence[Mapping[Any, Any]]
) -> SubjectConsent:
    mine = [row for row in rows if row["subject_kind"] == kind and row["subject_id"] == subject_id]
    return SubjectConsent(
        kind=kind,
        id=subject_id,
        purposes={r["purpose"]: bool(r["granted"]) for r in mine if r["purpose"] != DO_NOT_SELL},
        do_not_sell=next((bool(r["granted"]) for r in mine if r["purpose"] == DO_NOT_SELL), None),
        updated_at=from_ms(max(r["updated_at"] for r in mine)) if mine else None,
    )


class Consent:
    """Record and read consent; the gates above apply it to collection."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def set(
        self, app_id: str, req: ConsentIn, *, source: str = "api", actor: str = "api"
    ) -> ConsentState:
        """Record a consent change for the device and/or user given; a withdrawal of
        ``fingerprinting`` unlinks devices and clears their ids from identified sessions."""
        engine = self._engine
        answers: dict[str, bool] = {str(k): v for k, v in req.purposes.items()}
        if req.do_not_sell is not None:
            answers[DO_NOT_SELL] = req.do_not_sell
        subjects: list[Subject] = []
        if req.device_id is not None:
            subjects.append(("device", req.device_id))
        if req.user_id is not None:
            subjects.append(("user", req.user_id))
        now = engine.clock.now_ms()
        if answers:
            cleared = await engine.db.write(_apply, app_id, subjects, answers, source, actor, now)
            if cleared:
                from sessionhub.core.subjects import recompute_days  # a cycle otherwise

                zone = ZoneInfo((await engine.apps.settings(app_id)).timezone)
                await recompute_days(engine, app_id, {cal.local_day(zone, ms) for ms in cleared})
        return await self.get(app_id, device_id=req.device_id, user_id=req.user_id)

    async def gpc(self, app_id: str, device_id: str | None, user_id: str | None) -> int:
        """Honour a ``Sec-GPC: 1`` header sent with a request about this device/user."""
        if device_id is None and user_id is None:
            return 0
        now = self._engine.clock.now_ms()
        return await self._engine.db.write(record_gpc, app_id, [(device_id, user_id)], now)

    async def get(
        self, app_id: str, *, device_id: str | None = None, user_id: str | None = None
    ) -> ConsentState:
        """The subjects' records and what applies to them now."""
        if device_id is None and user_id is None:
            raise InvalidInput("Give a device_id, a user_id or both.", details={"field": "user_id"})
        settings = await self._engine.apps.settings(app_id)
        linked = user_id
        if linked is None and device_id is not None:
            linked = await self._engine.db.read(sq.linked_user, app_id, device_id)
        subjects: list[Subject] = []
        if device_id is not None:
            subjects.append(("device", device_id))
        if linked is not None:
            subjects.append(("user", linked))
        rows = await self._engine.db.read(q.records, app_id, subjects)
        device = _subject_consent("device", device_id, rows) if device_id is not None else None
        user = _subject_consent("user", linked, rows) if linked is not None else None
        parts = [p for p in (device, user) if p is not None]
        effective = {
            purpose: decide(settings.consent_mode, [p.purposes.get(purpose) for p in parts])
            for purpose in PURPOSES
        }
        return ConsentState(
            mode=settings.consent_mode,
            device=device,
            user=user,
            effective=effective,
            do_not_sell=any(p.do_not_sell for p in parts),
        )

    async def log(
        self,
        app_id: str,
        *,
        device_id: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[ConsentLogEntry]:
        """The consent log of a device and/or user, oldest first."""
        check_limit(limit)
        if device_id is None and user_id is None:
            raise InvalidInput("Give a device_id, a user_id or both.", details={"field": "user_id"})
        subjects: list[Subject] = []
        if device_id is not None:
            subjects.append(("device", device_id))
        if user_id is not None:
            subjects.append(("user", user_id))
        after = decode_cursor(cursor, 1)
        rows = await self._engine.db.read(
            q.log_page, app_id, subjects, limit + 1, after[0] if after else None
        )
        items = [
            ConsentLogEntry(
                subject_kind=row["subject_kind"],
                subject_id=row["subject_id"],
                purpose=row["purpose"],
                granted=bool(row["granted"]),
                source=row["source"],
                actor=row["actor"],
                at=from_ms(row["at"]),
            )
            for row in rows[:limit]
        ]
        next_cursor = encode_cursor(rows[limit - 1]["seq"]) if len(rows) > limit else None
        return Page[ConsentLogEntry](items=items, next_cursor=next_cursor)
