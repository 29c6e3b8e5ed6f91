"""Bulk operations on sessions: update or delete every session matching a filter, dry run first.

Each operation runs as one write, with its audit entry in the same transaction. A dry run
counts the matches and changes nothing (and is not audited: nothing happened). The audit
entry holds the filter with user and device ids replaced by salted hashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.core.audit import record_audit, subject_ref
from sessionhub.core.merge_patch import merge_patch
from sessionhub.core.session_rows import check_json_size
from sessionhub.core.sessions import _filter_values
from sessionhub.errors import InvalidInput
from sessionhub.models.audit import BulkChanges, BulkDelete, BulkResult, BulkUpdate
from sessionhub.models.sessions import SessionFilter
from sessionhub.storage import bulk as q
from sessionhub.storage import sessions as sq

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


def _conditions(filters: SessionFilter) -> dict[str, Any]:
    """The filter as storage takes it; an empty one is refused (it would match everything)."""
    values = _filter_values(filters)
    if not values:
        raise InvalidInput(
            "Give at least one filter condition: a bulk operation never matches everything"
            " by default.",
            details={"field": "filter"},
        )
    return values


def _audited_filter(filters: SessionFilter) -> dict[str, Any]:
    shown: dict[str, Any] = filters.model_dump(mode="json", exclude_none=True)
    for name in ("user_id", "device_id"):
        if name in shown:
            shown[name] = subject_ref(shown[name])
    return shown


class BulkSessions:
    """Update or delete sessions by filter; each run is one transaction and one audit entry."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def delete(self, app_id: str, req: BulkDelete, *, actor: str = "system") -> BulkResult:
        """Delete every matching session (the worker removes what belonged to them)."""
        conditions = _conditions(req.filter)
        now = self._engine.clock.now_ms()
        if req.dry_run:
            matched = await self._engine.db.read(sq.count, app_id, now, conditions, heavy=True)
            return BulkResult(dry_run=True, matched=matched, changed=0)
        shown = _audited_filter(req.filter)
        deleted = await self._engine.db.write(
            _delete, app_id, now, conditions, actor, {"filter": shown}
        )
        return BulkResult(dry_run=False, matched=deleted, changed=deleted)

    async def update(self, app_id: str, req: BulkUpdate, *, actor: str = "system") -> BulkResult:
        """End (as revoked) and/or merge-patch the metadata of every matching session."""
        conditions = _conditions(req.filter)
        changes = req.set
        if not changes.end and changes.metadata is None:
            raise InvalidInput(
                "Say what to change: set.end and/or set.metadata.", details={"field": "set"}
            )
        if changes.metadata is not None:
            check_json_size(changes.metadata, "set.metadata")
        now = self._engine.clock.now_ms()
        if req.dry_run:
            matched = await self._engine.db.read(sq.count, app_id, now, conditions, heavy=True)
            return BulkResult(dry_run=True, matched=matched, changed=0)
        details = {
            "filter": _audited_filter(req.filter),
            "end": changes.end,
            "metadata_keys": sorted(changes.metadata or {}),
        }
        matched, changed = await self._engine.db.write(
            _update, app_id, now, conditions, changes, actor, details
        )
        return BulkResult(dry_run=False, matched=matched, changed=changed)


def _delete(
    conn: Connection,
    app_id: str,
    now: int,
    conditions: dict[str, Any],
    actor: str,
    details: dict[str, Any],
) -> int:
    deleted = q.delete_matching(conn, app_id, now, conditions)
    record_audit(
        conn,
        now=now,
        app_id=app_id,
        actor=actor,
        action="sessions.bulk_delete",
        details={**details, "deleted": deleted},
    )
    return deleted


def _update(
    conn: Connection,
    app_id: str,
    now: int,
    conditions: dict[str, Any],
    changes: BulkChanges,
    actor: str,
    details: dict[str, Any],
) -> tuple[int, int]:
    # Read the matches before ending any: "status": "active" must still find them.
    rows = q.matching_meta(conn, app_id, now, conditions)
    changed: set[int] = set()
    if changes.metadata is not None:
        for sid, meta in rows:
            patched = merge_patch(meta, changes.metadata)
            if patched != meta:
                q.set_meta(conn, sid, patched)
                changed.add(sid)
    if changes.end:
        matched_sids = [sid for sid, _ in rows]
        changed.update(q.end_running_among(conn, matched_sids, now))
    record_audit(
        conn,
        now=now,
        app_id=app_id,
        actor=actor,
        action="sessions.bulk_update",
        details={**details, "matched": len(rows), "changed": len(changed)},
    )
    return len(rows), len(changed)
