"""Attachments: files (under ``data_dir/attachments``, size-limited, content type checked
against the allowed list and the file's own first bytes) and links. Purging an archived
session removes its files."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sessionhub.clock import from_ms
from sessionhub.core.work.access import check_actor, plan_for
from sessionhub.core.work.notify import Part
from sessionhub.errors import InvalidInput, NotFound, PayloadTooLarge
from sessionhub.ids import new_id
from sessionhub.models.work import Attachment, Attachments, LinkCreate
from sessionhub.storage import work_plan as pq
from sessionhub.storage.prepared import Row
from sessionhub.storage.schema_work import work_attachments

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

# What a file of these types starts with: a mislabelled upload is refused.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
}
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})


def attachment_model(row: Mapping[str, Any]) -> Attachment:
    return Attachment(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        content_type=row["content_type"],
        size=row["size"],
        sha256=row["sha256"],
        url=row["url"],
        created_by=row["created_by"],
        created_at=from_ms(row["created_at"]),
    )


def check_content(content_type: str, data: bytes, allowed: frozenset[str]) -> str:
    """The bare media type, if it is allowed and the bytes look like it; else 422."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in allowed:
        raise InvalidInput(
            f"Content type {media!r} is not allowed for attachments.",
            code="content_type_not_allowed",
            details={"field": "content-type", "content_type": media, "allowed": sorted(allowed)},
        )
    signatures = MAGIC.get(media)
    looks_wrong = signatures is not None and not data.startswith(signatures)
    if media in TEXT_TYPES:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            looks_wrong = True
    if looks_wrong:
        raise InvalidInput(
            f"The file's content is not {media}.",
            code="content_type_mismatch",
            details={"field": "content-type", "content_type": media},
        )
    return media


def _add(conn: Connection, app_id: str, session_id: str, actor: str, row: dict[str, Any]) -> Row:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    row["session_sid"] = plan["session_sid"]
    pq.add(conn, work_attachments, row)
    return row


def _may_upload(conn: Connection, app_id: str, session_id: str, actor: str) -> None:
    plan_for(conn, app_id, session_id, actor, "collaborator", editable=True)


def _find(
    conn: Connection, app_id: str, session_id: str, actor: str, attachment_id: str | None
) -> list[Row]:
    plan, _ = plan_for(conn, app_id, session_id, actor, "viewer")
    sid = plan["session_sid"]
    if attachment_id is None:
        return pq.items(conn, work_attachments, sid, work_attachments.c.created_at)
    row = pq.item(conn, work_attachments, sid, attachment_id)
    if row is None:
        raise NotFound(
            f"No attachment {attachment_id!r}.", details={"attachment_id": attachment_id}
        )
    return [row]


def _remove(conn: Connection, app_id: str, session_id: str, actor: str, attachment_id: str) -> Row:
    plan, _ = plan_for(conn, app_id, session_id, actor, "collaborator", lock=True, editable=True)
    row = pq.item(conn, work_attachments, plan["session_sid"], attachment_id)
    if row is None:
        raise NotFound(
            f"No attachment {attachment_id!r}.", details={"attachment_id": attachment_id}
        )
    pq.remove(conn, work_attachments, attachment_id)
    return row


SWEEP_EVERY_S = 600.0


class AttachmentsPart(Part):
    def __init__(self, engine: Engine):
        super().__init__(engine)
        settings = engine.settings
        self.root = Path(settings.data_dir) / "attachments"
        self._swept_at = -SWEEP_EVERY_S
        self.max_bytes = settings.work_attachment_max_bytes
        self.allowed = frozenset(
            t.strip().lower() for t in settings.work_attachment_types.split(",") if t.strip()
        )

    def path_of(self, app_id: str, attachment_id: str) -> Path:
        return self.root / app_id / attachment_id

    async def add_file(
        self, app_id: str, actor: str, session_id: str, name: str, content_type: str, data: bytes
    ) -> Attachment:
        """Store an uploaded file (collaborators and owners)."""
        check_actor(actor)
        # Who may upload is checked first: a stranger learns nothing from our checks of the file.
        await self._db.read(_may_upload, app_id, session_id, actor)
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(
                f"The file is {len(data)} bytes; the limit is {self.max_bytes}.",
                details={"bytes": len(data), "limit": self.max_bytes},
            )
        if not data:
            raise InvalidInput("The file is empty.", details={"field": "body"})
        media = check_content(content_type, data, self.allowed)
        attachment_id = new_id("att")
        path = self.path_of(app_id, attachment_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, path)  # a reader never sees half a file
        row = {
            "id": attachment_id,
            "kind": "file",
            "name": name,
            "content_type": media,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "url": None,
            "created_by": actor,
            "created_at": self._clock.now_ms(),
        }
        try:
            stored = await self._db.write(_add, app_id, session_id, actor, row)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        attachment = attachment_model(stored)
        await self.notify(
            app_id,
            session_id,
            stored["session_sid"],
            "attachment",
            attachment.model_dump(mode="json"),
        )
        return attachment

    async def add_link(
        self, app_id: str, actor: str, session_id: str, req: LinkCreate
    ) -> Attachment:
        check_actor(actor)
        row = {
            "id": new_id("att"),
            "kind": "link",
            "name": req.name or req.url[:200],
            "content_type": None,
            "size": None,
            "sha256": None,
            "url": req.url,
            "created_by": actor,
            "created_at": self._clock.now_ms(),
        }
        stored = await self._db.write(_add, app_id, session_id, actor, row)
        return attachment_model(stored)

    async def list(self, app_id: str, actor: str, session_id: str) -> Attachments:
        check_actor(actor)
        rows = await self._db.read(_find, app_id, session_id, actor, None)
        return Attachments(items=[attachment_model(r) for r in rows])

    async def content(
        self, app_id: str, actor: str, session_id: str, attachment_id: str
    ) -> tuple[Attachment, Path]:
        """A file attachment and where its bytes are (404 for a link or a missing file)."""
        check_actor(actor)
        (row,) = await self._db.read(_find, app_id, session_id, actor, attachment_id)
        path = self.path_of(app_id, attachment_id)
        if row["kind"] != "file" or not path.is_file():
            raise NotFound(
                f"Attachment {attachment_id!r} has no file to download.",
                details={"attachment_id": attachment_id},
            )
        return attachment_model(row), path

    async def remove(self, app_id: str, actor: str, session_id: str, attachment_id: str) -> None:
        check_actor(actor)
        row = await self._db.write(_remove, app_id, session_id, actor, attachment_id)
        if row["kind"] == "file":
            self.remove_files(app_id, [attachment_id])

    async def sweep(self, older_than_s: float = 3600.0, *, force: bool = False) -> int:
        """Remove files whose attachment row is gone; return how many.

        Deleting a session through /v1/sessions, erasing a user or the purge job drop the
        rows without knowing of the files; this finds them. A file younger than
        ``older_than_s`` is left alone: its row may not have committed yet. The worker
        calls this every round; it looks at the files at most every ten minutes.
        """
        if not force and time.monotonic() - self._swept_at < SWEEP_EVERY_S:
            return 0
        self._swept_at = time.monotonic()
        if not self.root.is_dir():
            return 0
        # File times are the file system's, so the wall clock (not the engine's) compares.
        cutoff = time.time() - older_than_s
        removed = 0
        for folder in self.root.iterdir():
            files = {
                path.name: path
                for path in folder.iterdir()
                if path.is_file() and path.suffix != ".part" and path.stat().st_mtime < cutoff
            }
            if not files:
                continue
            kept = await self._db.read(pq.stored_attachment_ids, sorted(files))
            for name, path in files.items():
                if name not in kept:
                    with contextlib.suppress(OSError):
                        path.unlink()
                        removed += 1
        return removed

    def remove_files(self, app_id: str, attachment_ids: builtins.list[str]) -> None:
        for attachment_id in attachment_ids:
            with contextlib.suppress(OSError):
                self.path_of(app_id, attachment_id).unlink(missing_ok=True)
