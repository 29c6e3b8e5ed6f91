"""``sessionhub audit list|verify``, ``bulk delete|update``, ``backup`` and ``restore``.

Registered on the main command in cli.py. The shared plumbing (``_run``, ``fail``,
``emit_one``) is imported when a command runs, so this module imports cleanly first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from sessionhub.clock import from_ms
from sessionhub.models.audit import BulkDelete, BulkUpdate

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

audit_cli = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)
bulk_cli = typer.Typer(
    help="Update or delete every session matching a filter (dry run first).", no_args_is_help=True
)

ACTOR = "cli"
AUDIT_COLUMNS = ["seq", "at", "app_id", "actor", "action", "target"]
AsJson = typer.Option(False, "--json", help="Print JSON instead of text.")


@audit_cli.command("list")
def audit_list(
    app: str | None = typer.Option(None, "--app", help="Only this app's entries."),
    actor: str | None = typer.Option(None, help="Only this actor's (e.g. cli, key:key_…)."),
    action: str | None = typer.Option(
        None, help="Only this action, or a prefix ending in '.' (e.g. key.)."
    ),
    since: str | None = typer.Option(None, "--from", help="ISO 8601 time, inclusive."),
    until: str | None = typer.Option(None, "--to", help="ISO 8601 time, exclusive."),
    limit: int = typer.Option(50, min=1, max=500, help="How many, at most (1-500)."),
    cursor: str | None = typer.Option(None, help="Continue after a previous page."),
    as_json: bool = AsJson,
) -> None:
    """List audit entries, newest first."""
    from sessionhub import cli as base

    start = base._iso_ms(since, "--from")
    end = base._iso_ms(until, "--to")

    async def work(engine: Engine) -> Any:
        return await engine.audit.list(
            app_id=app,
            actor=actor,
            action=action,
            since=start,
            until=end,
            limit=limit,
            cursor=cursor,
        )

    page = base._run(work)
    if as_json:
        base.say(json.dumps(page.model_dump(mode="json"), indent=2))
        return
    base.emit_many(page.items, False, AUDIT_COLUMNS)
    if page.next_cursor:
        base.say(f"more: --cursor {page.next_cursor}")


@audit_cli.command("verify")
def audit_verify(as_json: bool = AsJson) -> None:
    """Recompute the hash chain; exit 1 naming the first broken entry."""
    from sessionhub import cli as base

    async def work(engine: Engine) -> Any:
        return await engine.audit.verify()

    check = base._run(work)
    if as_json:
        base.emit_one(check, True)
    elif check.ok:
        base.say(f"ok: {check.entries} entries, chain intact")
    if not check.ok:
        base.fail(f"the audit chain is broken at entry {check.broken_seq}: {check.reason}", 1)


def _filter(
    status: str | None,
    kind: str | None,
    user: str | None,
    device: str | None,
    since: str | None,
    until: str | None,
) -> dict[str, Any]:
    from sessionhub import cli as base

    start = base._iso_ms(since, "--from")
    end = base._iso_ms(until, "--to")
    values = {
        "status": status,
        "kind": kind,
        "user_id": user,
        "device_id": device,
        "started_from": from_ms(start) if start is not None else None,
        "started_to": from_ms(end) if end is not None else None,
    }
    return {k: v for k, v in values.items() if v is not None}


StatusOption = typer.Option(None, help="active or ended.")
KindOption = typer.Option(None, help="visit, conversation or work.")
UserOption = typer.Option(None, "--user", help="Only this user's sessions.")
DeviceOption = typer.Option(None, "--device", help="Only this device's sessions.")
FromOption = typer.Option(None, "--from", help="Started at or after this ISO 8601 time.")
ToOption = typer.Option(None, "--to", help="Started before this ISO 8601 time.")
DryRunOption = typer.Option(False, "--dry-run", help="Only count the matching sessions.")


@bulk_cli.command("delete")
def bulk_delete(
    app: str = typer.Option(..., "--app", help="The app id."),
    status: Literal["active", "ended"] | None = StatusOption,
    kind: Literal["visit", "conversation", "work"] | None = KindOption,
    user: str | None = UserOption,
    device: str | None = DeviceOption,
    since: str | None = FromOption,
    until: str | None = ToOption,
    dry_run: bool = DryRunOption,
    as_json: bool = AsJson,
) -> None:
    """Delete every matching session (at least one filter); --dry-run counts them."""
    from sessionhub import cli as base

    body = base._validated(
        BulkDelete,
        {"filter": _filter(status, kind, user, device, since, until), "dry_run": dry_run},
    )
    base.emit_one(base._run(lambda engine: engine.bulk.delete(app, body, actor=ACTOR)), as_json)


@bulk_cli.command("update")
def bulk_update(
    app: str = typer.Option(..., "--app", help="The app id."),
    status: Literal["active", "ended"] | None = StatusOption,
    kind: Literal["visit", "conversation", "work"] | None = KindOption,
    user: str | None = UserOption,
    device: str | None = DeviceOption,
    since: str | None = FromOption,
    until: str | None = ToOption,
    end: bool = typer.Option(False, "--end", help="End the running ones (reason revoked)."),
    metadata: str | None = typer.Option(
        None, help='A JSON merge patch for each session\'s metadata, e.g. \'{"tier": "gold"}\'.'
    ),
    dry_run: bool = DryRunOption,
    as_json: bool = AsJson,
) -> None:
    """End and/or patch the metadata of every matching session; --dry-run counts them."""
    from sessionhub import cli as base

    changes: dict[str, Any] = {"end": end}
    if metadata is not None:
        try:
            changes["metadata"] = json.loads(metadata)
        except json.JSONDecodeError as exc:
            base.fail(f"--metadata is not JSON: {exc}", 2)
    body = base._validated(
        BulkUpdate,
        {
            "filter": _filter(status, kind, user, device, since, until),
            "set": changes,
            "dry_run": dry_run,
        },
    )
    base.emit_one(base._run(lambda engine: engine.bulk.update(app, body, actor=ACTOR)), as_json)


def backup_command(
    file: Path = typer.Argument(..., help="The backup file to write (replaced if it exists)."),
) -> None:
    """Copy the SQLite database to FILE, consistently, while the server keeps serving."""
    from sessionhub import cli as base
    from sessionhub.errors import InvalidInput, SessionhubError
    from sessionhub.storage import backup

    try:
        size = backup.backup(base.state.settings.resolved_database_url, file)
    except InvalidInput as exc:
        base.fail(exc.message, 2)
    except SessionhubError as exc:
        base.fail(f"{exc.message} ({exc.code})")
    base.say(f"backed up {size} bytes to {file}")


def restore_command(
    file: Path = typer.Argument(..., help="A file `sessionhub backup` wrote."),
    yes: bool = typer.Option(False, "--yes", help="Replace the database without asking."),
) -> None:
    """Replace the SQLite database with a backup (stop the server first), then migrate it."""
    from sessionhub import cli as base
    from sessionhub.errors import InvalidInput, SessionhubError
    from sessionhub.storage import backup
    from sessionhub.storage.migrate import upgrade

    url = base.state.settings.resolved_database_url
    try:
        backup.sqlite_path(url)
        backup.check_backup(file)
        if not yes and not typer.confirm(f"Replace the database {base.redact(url)} with {file}?"):
            base.fail("nothing restored", 1)
        revision = backup.restore(url, file)
        upgrade(url)
    except InvalidInput as exc:
        base.fail(exc.message, 2)
    except SessionhubError as exc:
        base.fail(f"{exc.message} ({exc.code})")
    base.say(f"restored {file} (schema {revision}) into {base.redact(url)}")


encryption_cli = typer.Typer(
    help="Encryption at rest: make a key, see which keys hold data, re-encrypt now.",
    no_args_is_help=True,
)


@encryption_cli.command("keygen")
def encryption_keygen() -> None:
    """Print a new random key for SESSIONHUB_ENCRYPTION_KEY (keep it secret, keep a copy)."""
    from sessionhub import cli as base
    from sessionhub.crypto import new_key

    base.say(new_key())


@encryption_cli.command("status")
def encryption_status(as_json: bool = AsJson) -> None:
    """Show the current key id, the key ids that still hold data, and what is left to rewrite."""
    from sessionhub import cli as base

    async def work(engine: Engine) -> Any:
        return await engine.encryption.status()

    status = base._run(work)
    data = {"current": status.current, "live": status.live, "pending": status.pending}
    if as_json:
        base.say(json.dumps(data, indent=2))
        return
    for name, value in data.items():
        base.say(f"{name.ljust(7)}  {value if isinstance(value, str) else ', '.join(value) or '-'}")


@encryption_cli.command("rotate")
def encryption_rotate() -> None:
    """Check every stored value now: rewrite those not under the current key, retire old keys."""
    from sessionhub import cli as base

    async def work(engine: Engine) -> Any:
        rewritten = await engine.encryption.sweep(force=True)
        return rewritten, await engine.encryption.status()

    rewritten, status = base._run(work)
    left = ", ".join(status.pending) or "none"
    base.say(f"rewrote {rewritten} values under key {status.current}; old keys left: {left}")
