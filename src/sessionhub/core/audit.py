"""The audit log: append-only, hash-chained entries of who did what, read by filter, verified.

``record_audit`` appends inside the caller's write transaction, so an entry commits (or
rolls back) with the action it records. Each entry stores the hash of the entry before it
and its own hash over its canonical content; ``Audit.verify`` recomputes the chain and
names the first entry that does not match.

Subjects (user and device ids) never enter the log as they are: ``subject_ref`` gives a
salted hash (HMAC-SHA256). The salt is the ``audit_salt`` setting; when that is empty, a
random salt generated once and kept in the database (the chain head row), so every process
on one database agrees on it. ``Engine.start`` loads it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.pagination import check_limit, decode_cursor, encode_cursor
from sessionhub.models.audit import AuditCheck, AuditEntry
from sessionhub.models.common import Page
from sessionhub.storage import audit as q

if TYPE_CHECKING:
    from sessionhub.core.apps import Caller
    from sessionhub.core.engine import Engine

# The salt of subject references: set by Engine.start (the setting, else the database's).
# A process that never started an engine gets a random one, so references are still never
# the raw id (but then only comparable within that process).
_salt: bytes = secrets.token_bytes(32)


def configure_salt(salt: str) -> None:
    """Use ``salt`` for subject references from now on (Engine.start calls this)."""
    global _salt
    _salt = salt.encode()


def subject_ref(value: str) -> str:
    """A salted hash of a subject id (user or device) for the audit log: never the id itself."""
    return "subj_" + hmac.new(_salt, value.encode(), hashlib.sha256).hexdigest()[:40]


def actor_of(caller: Caller) -> str:
    """How the log names a caller: ``key:<key id>`` (never the key's token)."""
    return f"key:{caller.key_id}"


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """The JSON text stored and hashed for ``details``: keys sorted, no whitespace."""
    return orjson.dumps(dict(details or {}), option=orjson.OPT_SORT_KEYS).decode()


def entry_hash(
    *,
    seq: int,
    at: int,
    app_id: str | None,
    actor: str,
    action: str,
    target: str | None,
    details: str,
    prev_hash: str,
) -> str:
    """SHA-256 over an entry's canonical content, its position and the previous hash."""
    content = orjson.dumps([seq, at, app_id, actor, action, target, details, prev_hash])
    return hashlib.sha256(content).hexdigest()


def record_audit(
    conn: Connection,
    *,
    now: int,
    app_id: str | None,
    actor: str,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append an entry inside the caller's write transaction (it commits with the action).

    The chain head is locked until the transaction ends, so concurrent writers on
    PostgreSQL append one after another; SQLite has a single writer.
    """
    last_seq, last_hash = q.lock_head(conn, secrets.token_hex(32))
    text = canonical_details(details)
    seq = last_seq + 1
    digest = entry_hash(
        seq=seq,
        at=now,
        app_id=app_id,
        actor=actor,
        action=action,
        target=target,
        details=text,
        prev_hash=last_hash,
    )
    q.append(
        conn,
        {
            "seq": seq,
            "at": now,
            "app_id": app_id,
            "actor": actor,
            "action": action,
            "target": target,
            "details": text,
            "prev_hash": last_hash,
            "hash": digest,
        },
    )


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What ``verify`` found: ok, how many entries it checked, and the first broken link."""

    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str | None = None


def check_chain(conn: Connection) -> ChainCheck:
    """Walk the whole log in order, recomputing each hash; stop at the first broken link."""
    expected_prev = q.GENESIS
    expected_seq = 1
    count = 0
    for row in q.iter_all(conn):
        seq = int(row["seq"])
        if seq != expected_seq:
            return ChainCheck(False, count, expected_seq, f"entry {expected_seq} is missing")
        if row["prev_hash"] != expected_prev:
            return ChainCheck(
                False, count, seq, f"entry {seq} does not follow entry {seq - 1} (prev_hash)"
            )
        fields = {k: row[k] for k in ("seq", "at", "app_id", "actor", "action", "target")}
        computed = entry_hash(**fields, details=row["details"], prev_hash=row["prev_hash"])
        if not hmac.compare_digest(computed, row["hash"]):
            return ChainCheck(False, count, seq, f"entry {seq} was changed (hash mismatch)")
        expected_prev = row["hash"]
        expected_seq += 1
        count += 1
    head = q.head(conn)
    last_seq = int(head["last_seq"]) if head is not None else 0
    if last_seq != count or (head is not None and head["last_hash"] != expected_prev):
        return ChainCheck(
            False,
            count,
            count + 1 if last_seq > count else last_seq,
            f"the chain head says {last_seq} entries, the log holds {count}",
        )
    return ChainCheck(True, count)


def entry_model(row: Mapping[Any, Any]) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=from_ms(row["at"]),
        app_id=row["app_id"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        details=orjson.loads(row["details"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


class Audit:
    """The audit log of an engine: record, read with filters, verify."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def start(self) -> None:
        """Load the subject-reference salt: the setting, else the database's own."""
        salt = self._engine.settings.audit_salt
        if not salt:
            salt = await self._engine.db.write(q.ensure_head, secrets.token_hex(32))
        configure_salt(salt)

    async def record(
        self,
        *,
        app_id: str | None,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append an entry in a write of its own (actions with writes use ``record_audit``)."""
        await self._engine.db.write(
            partial(
                record_audit,
                now=self._engine.clock.now_ms(),
                app_id=app_id,
                actor=actor,
                action=action,
                target=target,
                details=details,
            )
        )

    async def list(
        self,
        *,
        app_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """Entries matching every given filter, newest first; ``action`` ending in "." is a prefix."""
        check_limit(limit)
        position = decode_cursor(cursor, parts=1)
        rows = await self._engine.db.read(
            partial(
                q.list_entries,
                app_id=app_id,
                actor=actor,
                action=action,
                since=since,
                until=until,
                before_seq=position[0] if position else None,
                limit=limit + 1,
            )
        )
        items = [entry_model(row) for row in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1]["seq"]) if len(rows) > limit else None
        return Page[AuditEntry](items=items, next_cursor=next_cursor)

    async def verify(self) -> AuditCheck:
        """Recompute the chain from the first entry; report the first broken link."""
        found = await self._engine.db.read(check_chain, heavy=True)
        return AuditCheck(
            ok=found.ok, entries=found.entries, broken_seq=found.broken_seq, reason=found.reason
        )
