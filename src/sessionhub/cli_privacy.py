"""``sessionhub subjects find|export|erase`` and ``sessionhub privacy report``.

Registered on the main command in cli.py. The shared plumbing (``_run``, ``fail``,
``emit_one``) is imported when a command runs, so this module imports cleanly first.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sessionhub.models.privacy import SubjectIn

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

subjects_cli = typer.Typer(
    help="Find, export and erase everything stored about a user or device (GDPR).",
    no_args_is_help=True,
)
privacy_cli = typer.Typer(
    help="Privacy: the report of consent, requests, retention.", no_args_is_help=True
)

ACTOR = "cli"
AppOption = typer.Option(..., "--app", help="The app id.")
UserOption = typer.Option(None, "--user", help="The user id (give this or --device).")
DeviceOption = typer.Option(None, "--device", help="The device id (give this or --user).")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of text.")


def _subject(user: str | None, device: str | None) -> SubjectIn:
    from sessionhub import cli as base

    subject: SubjectIn = base._validated(SubjectIn, {"user_id": user, "device_id": device})
    return subject


@subjects_cli.command("find")
def find(
    app: str = AppOption,
    user: str | None = UserOption,
    device: str | None = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Show what is stored about a subject: devices, users, first/last seen, records per kind."""
    from sessionhub import cli as base

    subject = _subject(user, device)

    async def work(engine: Engine) -> Any:
        return await engine.subjects.find(app, subject)

    base.emit_one(base._run(work), as_json)


@subjects_cli.command("export")
def export(
    app: str = AppOption,
    user: str | None = UserOption,
    device: str | None = DeviceOption,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: standard output)."
    ),
) -> None:
    """Write every stored record of a subject as one JSON document (GDPR Art. 15/20)."""
    from sessionhub import cli as base

    subject = _subject(user, device)

    async def work(engine: Engine) -> int:
        chunks = await engine.subjects.export(app, subject, actor=ACTOR)
        sink = output.open("wb") if output else sys.stdout.buffer
        written = 0
        try:
            async for chunk in chunks:
                sink.write(chunk)
                written += len(chunk)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()
        return written

    size = base._run(work)
    print(f"exported {size} bytes" + (f" to {output}" if output else ""), file=sys.stderr)


@subjects_cli.command("erase")
def erase(
    app: str = AppOption,
    user: str | None = UserOption,
    device: str | None = DeviceOption,
    yes: bool = typer.Option(False, "--yes", help="Erase without asking (for scripts)."),
    as_json: bool = JsonOption,
) -> None:
    """Erase a subject from every table (GDPR Art. 17); their running sessions end at once."""
    from sessionhub import cli as base

    subject = _subject(user, device)
    who = f"user {user}" if user is not None else f"device {device}"
    if not yes and not typer.confirm(f"Erase everything stored about {who} in {app}?"):
        base.fail("nothing erased", 1)

    async def work(engine: Engine) -> Any:
        return await engine.subjects.erase(app, subject, actor=ACTOR)

    base.emit_one(base._run(work), as_json)


@privacy_cli.command("report")
def report(app: str = AppOption, as_json: bool = JsonOption) -> None:
    """Subjects, consent rates by purpose, requests served and their durations, retention."""
    from sessionhub import cli as base

    async def work(engine: Engine) -> Any:
        return await engine.privacy.report(app)

    base.emit_one(base._run(work), as_json)
