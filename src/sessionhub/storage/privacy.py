"""Queries for consent (records, log, device links it touches) and the privacy report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    update,
)

from sessionhub.storage.prepared import Prepared
from sessionhub.storage.schema import SESSION_ENDED, device_links, events, messages, sessions
from sessionhub.storage.schema_privacy import consent_log, consent_records, subject_requests

c = consent_records.c
log = consent_log.c
s = sessions.c
dl = device_links.c

Subject = tuple[str, str]  # (kind, id): ("device", "d1") or ("user", "u1")


def _subjects_where(subjects: Iterable[Subject]) -> Any:
    wanted = sorted(set(subjects))
    devices = [sid for kind, sid in wanted if kind == "device"]
    users = [sid for kind, sid in wanted if kind == "user"]
    parts = []
    if devices:
        parts.append(and_(c.subject_kind == "device", c.subject_id.in_(devices)))
    if users:
        parts.append(and_(c.subject_kind == "user", c.subject_id.in_(users)))
    return or_(*parts) if parts else false()


def records(
    conn: Connection, app_id: str, subjects: Iterable[Subject], purpose: str | None = None
) -> list[RowMapping]:
    """The consent records of ``subjects`` (for one purpose, or all)."""
    query = select(consent_records).where(c.app_id == app_id, _subjects_where(subjects))
    if purpose is not None:
        query = query.where(c.purpose == purpose)
    return list(conn.execute(query.order_by(c.subject_kind, c.subject_id, c.purpose)).mappings())


# On the ingest path (once per batch, for analytics and for profiles): compiled once.
_REFUSAL = Prepared(
    select(c.subject_id)
    .where(
        c.app_id == bindparam("p_app"), c.purpose == bindparam("p_purpose"), c.granted == false()
    )
    .limit(1)
)


def any_refusal(conn: Connection, app_id: str, purpose: str) -> bool:
    """Whether anyone in the app refused ``purpose`` (one index probe: the usual answer is no)."""
    return _REFUSAL.first(conn, {"p_app": app_id, "p_purpose": purpose}) is not None


def linked_users(conn: Connection, app_id: str, devices: Iterable[str]) -> dict[str, str]:
    """device -> the user it is linked to, for those of ``devices`` that are linked."""
    wanted = sorted(set(devices))
    if not wanted:
        return {}
    query = select(dl.device_id, dl.user_id).where(dl.app_id == app_id, dl.device_id.in_(wanted))
    return {row[0]: row[1] for row in conn.execute(query)}


def set_record(
    conn: Connection,
    app_id: str,
    subject: Subject,
    purpose: str,
    granted: bool,
    source: str,
    actor: str,
    now: int,
) -> bool:
    """Store one consent answer and log it; False (nothing written) when it was already so."""
    kind, subject_id = subject
    key = (c.app_id == app_id, c.subject_kind == kind, c.subject_id == subject_id)
    current = conn.execute(
        select(c.granted).where(*key, c.purpose == purpose).with_for_update()
    ).first()
    if current is not None and bool(current[0]) == granted:
        return False
    values = {"granted": granted, "source": source, "updated_at": now}
    if current is None:
        conn.execute(
            insert(consent_records).values(
                app_id=app_id, subject_kind=kind, subject_id=subject_id, purpose=purpose, **values
            )
        )
    else:
        conn.execute(update(consent_records).where(*key, c.purpose == purpose).values(**values))
    conn.execute(
        insert(consent_log).values(
            app_id=app_id,
            subject_kind=kind,
            subject_id=subject_id,
            purpose=purpose,
            granted=granted,
            source=source,
            actor=actor,
            at=now,
        )
    )
    return True


def log_page(
    conn: Connection, app_id: str, subjects: Iterable[Subject], limit: int, after: int | None
) -> list[RowMapping]:
    """The consent log of ``subjects``, oldest first, after the sequence number ``after``."""
    where = [log.app_id == app_id, _log_subjects_where(subjects)]
    if after is not None:
        where.append(log.seq > after)
    query = select(consent_log).where(*where).order_by(log.seq).limit(limit)
    return list(conn.execute(query).mappings())


def _log_subjects_where(subjects: Iterable[Subject]) -> Any:
    parts = [
        and_(log.subject_kind == kind, log.subject_id == subject_id)
        for kind, subject_id in sorted(set(subjects))
    ]
    return or_(*parts) if parts else false()


def unlink(conn: Connection, app_id: str, subject: Subject) -> list[int]:
    """Remove the subject's device links and the device ids (fingerprints) of its identified
    sessions; the start times of the sessions changed (their rollup days are stale)."""
    kind, subject_id = subject
    if kind == "user":
        conn.execute(delete(device_links).where(dl.app_id == app_id, dl.user_id == subject_id))
        whose = and_(s.user_id == subject_id, s.device_id.is_not(None))
    else:
        conn.execute(delete(device_links).where(dl.app_id == app_id, dl.device_id == subject_id))
        whose = and_(s.device_id == subject_id, s.user_id.is_not(None))
    where = (s.app_id == app_id, s.deleted_at.is_(None), whose)
    starts = [int(v) for v in conn.execute(select(s.started_at).where(*where)).scalars()]
    if starts:
        conn.execute(update(sessions).where(*where).values(device_id=None))
    return starts


# -- subject requests and the report ----------------------------------------------------------


def add_request(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(subject_requests).values(**row))


def request_stats(conn: Connection, app_id: str) -> dict[str, tuple[int, float | None, Any, Any]]:
    """kind -> (count, mean ms, max ms, last started_at)."""
    r = subject_requests.c
    query = (
        select(
            r.kind,
            func.count(),
            func.avg(r.duration_ms),
            func.max(r.duration_ms),
            func.max(r.started_at),
        )
        .where(r.app_id == app_id)
        .group_by(r.kind)
    )
    return {
        row[0]: (int(row[1]), float(row[2]) if row[2] is not None else None, row[3], row[4])
        for row in conn.execute(query)
    }


def consent_counts(conn: Connection, app_id: str) -> dict[tuple[str, bool], int]:
    """(purpose, granted) -> how many subjects said so."""
    query = (
        select(c.purpose, c.granted, func.count())
        .where(c.app_id == app_id)
        .group_by(c.purpose, c.granted)
    )
    return {(row[0], bool(row[1])): int(row[2]) for row in conn.execute(query)}


def subject_counts(conn: Connection, app_id: str) -> dict[str, int]:
    """Distinct users and devices with live sessions."""
    query = select(func.count(s.user_id.distinct()), func.count(s.device_id.distinct())).where(
        s.app_id == app_id, s.deleted_at.is_(None)
    )
    users, devices = conn.execute(query).one()
    return {"users": int(users), "devices": int(devices)}


def retention_status(
    conn: Connection, app_id: str, cutoffs: dict[str, int | None]
) -> dict[str, tuple[Any, int]]:
    """kind -> (oldest stored time, how many are past ``cutoffs[kind]``)."""
    e = events.c
    m = messages.c
    found: dict[str, tuple[Any, int]] = {}
    oldest = conn.execute(select(func.min(e.occurred_at)).where(e.app_id == app_id)).scalar()
    found["events"] = (
        oldest,
        _count_before(conn, events, e.occurred_at, app_id, cutoffs["events"]),
    )
    in_app = select(s.sid).where(s.app_id == app_id).scalar_subquery()
    oldest = conn.execute(select(func.min(m.created_at)).where(m.session_sid.in_(in_app))).scalar()
    overdue = 0
    if cutoffs["messages"] is not None:
        overdue = int(
            conn.execute(
                select(func.count()).where(
                    m.session_sid.in_(in_app), m.created_at < cutoffs["messages"]
                )
            ).scalar_one()
        )
    found["messages"] = (oldest, overdue)
    ended = (s.app_id == app_id, SESSION_ENDED, s.deleted_at.is_(None))
    oldest = conn.execute(select(func.min(s.ended_at)).where(*ended)).scalar()
    overdue = 0
    if cutoffs["ended_sessions"] is not None:
        overdue = int(
            conn.execute(
                select(func.count())
                .select_from(sessions)
                .where(*ended, s.ended_at < cutoffs["ended_sessions"])
            ).scalar_one()
        )
    found["ended_sessions"] = (oldest, overdue)
    return found


def _count_before(
    conn: Connection, table: Any, column: Any, app_id: str, cutoff: int | None
) -> int:
    if cutoff is None:
        return 0
    query = select(func.count()).select_from(table).where(table.c.app_id == app_id, column < cutoff)
    return int(conn.execute(query).scalar_one())
