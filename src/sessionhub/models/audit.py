"""Shapes of the audit log, bulk session operations and backups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from sessionhub.models.common import Input, Output
from sessionhub.models.sessions import SessionFilter


class AuditEntry(Output):
    """One audited action. ``details`` never hold raw subject ids, keys or tokens."""

    seq: int = Field(description="Position in the chain, from 1, without gaps.")
    at: datetime
    app_id: str | None
    actor: str = Field(description="Who: key:<key id>, cli, worker or system.")
    action: str = Field(description="What, e.g. app.create, key.rotate, sessions.bulk_delete.")
    target: str | None = Field(description="The id acted on, when there is one.")
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditCheck(Output):
    """The result of verifying the chain."""

    ok: bool
    entries: int = Field(description="Entries checked and found intact.")
    broken_seq: int | None = Field(description="The first entry that breaks the chain.")
    reason: str | None


class BulkDelete(Input):
    """Delete the sessions matching ``filter`` (at least one condition is required, so
    "everything" is never one typo away); the worker removes what belonged to them."""

    filter: SessionFilter
    dry_run: bool = Field(default=False, description="Count the matching sessions; change nothing.")


class BulkUpdate(Input):
    """Change the sessions matching ``filter`` (at least one condition required)."""

    filter: SessionFilter
    set: BulkChanges
    dry_run: bool = Field(default=False, description="Count the matching sessions; change nothing.")


class BulkChanges(Input):
    """What a bulk update changes: end the sessions (as revoked) and/or merge metadata."""

    end: bool = Field(default=False, description="End the active ones with reason 'revoked'.")
    metadata: Annotated[dict[str, Any], Field(max_length=50)] | None = Field(
        default=None, description="Top-level keys merged into each session's metadata."
    )


class BulkResult(Output):
    dry_run: bool
    matched: int = Field(description="Sessions that match the filter.")
    changed: int = Field(description="Sessions changed (0 on a dry run).")


BulkUpdate.model_rebuild()
