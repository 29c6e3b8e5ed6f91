"""The ``sessionhub`` command: serve, worker, migrate, config, apps, keys, sessions, export, import.

Every command takes the global ``--database-url`` and ``--data-dir`` (or their
``SESSIONHUB_*`` variables). Output is plain text for people and ``--json`` for scripts;
ids and tokens are never shortened. Exit status: 0 done, 1 the operation failed (not
found, storage down…), 2 the input was wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import Progress

from sessionhub._version import __version__
from sessionhub.clock import to_ms
from sessionhub.config import Settings, describe, env_name
from sessionhub.core import transfer
from sessionhub.core.engine import Engine
from sessionhub.errors import InvalidInput, SessionhubError
from sessionhub.models import AppSettings, SessionEnd, SessionFilter
from sessionhub.models.events import ImportResult

T = TypeVar("T")

cli = typer.Typer(
    help="Sessionhub: a self-hosted session engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
apps_cli = typer.Typer(help="Create, list and show apps.", no_args_is_help=True)
keys_cli = typer.Typer(help="Issue, list, rotate and revoke API keys.", no_args_is_help=True)
sessions_cli = typer.Typer(help="List, show and end sessions.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(sessions_cli, name="sessions")


class _State:
    settings: Settings


state = _State()


# -- plumbing -----------------------------------------------------------------------------


def say(text: str = "") -> None:
    """Print a line to stdout now (flushed: ``serve`` output may go to a pipe or a file)."""
    print(text, flush=True)


def fail(message: str, status: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``status``."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(status)


def redact(url: str) -> str:
    """The URL with its password hidden, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _validated(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """Validate CLI input into ``model``; exit 2 naming what was wrong."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        fail(InvalidInput.from_validation(exc).message, 2)


def _run(work: Callable[[Engine], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run ``work`` with a started engine; report Sessionhub errors plainly (exit 2 or 1)."""

    async def runner() -> T:
        engine = Engine(state.settings)
        await engine.start(migrate=migrate)
        try:
            return await work(engine)
        finally:
            await engine.close()

    try:
        return asyncio.run(runner())
    except InvalidInput as exc:
        fail(exc.message, 2)
    except SessionhubError as exc:
        fail(f"{exc.message} ({exc.code})")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``; ``metadata`` and lists stay whole."""
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict) and value and name != "metadata":
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def emit_one(item: BaseModel, as_json: bool) -> None:
    """Print one object: JSON, or one ``field  value`` line per field."""
    data = item.model_dump(mode="json")
    if as_json:
        say(json.dumps(data, indent=2))
        return
    flat = _flatten(data)
    width = max(len(name) for name in flat)
    for name, value in flat.items():
        say(f"{name.ljust(width)}  {_text(value)}")


def emit_many(items: Sequence[BaseModel], as_json: bool, columns: list[str]) -> None:
    """Print a list: a JSON array, or aligned columns (values never cut short)."""
    rows = [item.model_dump(mode="json") for item in items]
    if as_json:
        say(json.dumps(rows, indent=2))
        return
    cells = [[_text(_flatten(row).get(column)) for column in columns] for row in rows]
    widths = [
        max(len(c) for c in [column, *(r[i] for r in cells)]) for i, column in enumerate(columns)
    ]
    for line in [columns, *cells]:
        say("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


AsJson = typer.Option(False, "--json", help="Print JSON instead of text.")
AppOption = typer.Option(..., "--app", help="The app id.")


@cli.callback()
def _main(
    database_url: str | None = typer.Option(
        None, help="Database URL (env SESSIONHUB_DATABASE_URL; default SQLite in the data dir)."
    ),
    data_dir: Path | None = typer.Option(
        None, help="Data directory (env SESSIONHUB_DATA_DIR; default ./data)."
    ),
) -> None:
    try:
        state.settings = Settings.from_env(database_url=database_url, data_dir=data_dir)
    except SessionhubError as exc:
        fail(exc.message, 2)


# -- operations ---------------------------------------------------------------------------


@cli.command()
def version() -> None:
    """Print the version."""
    say(__version__)


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (safe to run again)."""
    from sessionhub.storage.migrate import upgrade

    url = state.settings.resolved_database_url
    try:
        upgrade(url)
    except SessionhubError as exc:
        fail(f"{exc.message} ({exc.code})")
    say(f"database is up to date: {redact(url)}")


@cli.command()
def config(
    markdown: bool = typer.Option(
        False, "--markdown", help="Print the settings reference table (docs/configuration.md)."
    ),
) -> None:
    """Show every setting: its environment variable and the value this process would use."""
    if markdown:
        say("| Environment variable | Default | What it does |")
        say("|---|---|---|")
        for env, default, help_text in describe():
            shown = f"`{default}`" if default else "*(empty)*"
            say(f"| `{env}` | {shown} | {help_text} |")
        return
    current = state.settings
    rows = []
    for item in fields(current):
        value = getattr(current, item.name)
        if item.name == "database_url":
            value = current.resolved_database_url
        shown = redact(str(value)) if item.name.endswith("_url") else str(value)
        rows.append((env_name(item.name), shown or "(not set)"))
    width = max(len(env) for env, _ in rows)
    for env, shown in rows:
        say(f"{env.ljust(width)}  {shown}")


@cli.command()
def serve(
    host: str | None = typer.Option(None, help="Listen address (env SESSIONHUB_HOST)."),
    port: int | None = typer.Option(
        None, min=1, max=65535, help="Port (env SESSIONHUB_PORT; default 8000)."
    ),
    worker: bool = typer.Option(
        True, help="Run the background worker in this process (env SESSIONHUB_RUN_WORKER)."
    ),
) -> None:
    """Migrate, create a first app on first run, and serve the API (and the worker)."""
    import uvicorn

    from sessionhub.api import create_app

    settings = state.settings.replace(
        host=state.settings.host if host is None else host,
        port=state.settings.port if port is None else port,
        run_worker=worker and state.settings.run_worker,
    )
    state.settings = settings
    _run(_first_run)
    say(f"Sessionhub {__version__} on http://{settings.host}:{settings.port}  (API docs at /docs)")
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again to
    # the handler it found; ours turns that into a normal return, so a requested stop
    # exits 0 (as service managers expect) instead of dying by the signal.
    previous = {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}
    try:
        uvicorn.run(
            create_app(Engine(settings)),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
            # Whose X-Forwarded-For to believe is SESSIONHUB_TRUSTED_PROXIES' to say:
            # uvicorn's own default believes any request from 127.0.0.1.
            proxy_headers=False,
        )
    except _Stopped:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stopped(Exception):
    """A stop signal arrived after (or before) the server shut down."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


async def _first_run(engine: Engine) -> None:
    """On an empty database, create the app ``default`` and print its keys (once)."""
    if await engine.apps.count() > 0:
        return
    app = await engine.apps.create("default")
    pk = await engine.keys.issue("publishable", app.id, "default publishable")
    sk = await engine.keys.issue("secret", app.id, "default secret")
    ak = await engine.keys.issue("admin", None, "first admin")
    say("First run: created the app 'default'. These keys are shown once; keep them.")
    say(f"  app id           {app.id}")
    say(f"  publishable key  {pk.token}")
    say(f"  secret key       {sk.token}")
    say(f"  admin key        {ak.token}")


@cli.command("worker")
def worker_command(
    once: bool = typer.Option(False, "--once", help="Run every job once and exit."),
    interval: float | None = typer.Option(
        None, min=0.1, help="Seconds between runs (env SESSIONHUB_WORKER_INTERVAL_S)."
    ),
    as_json: bool = typer.Option(False, "--json", help="With --once: print the results as JSON."),
) -> None:
    """Run the background jobs (expiry, purge) alone, e.g. beside API replicas."""
    from sessionhub.worker import Worker

    async def work(engine: Engine) -> None:
        worker = Worker(engine)
        if once:
            results = await worker.run_once()
            if as_json:
                say(json.dumps(results))
                return
            for job, changed in results.items():
                say(
                    f"{job}: {'skipped (another worker holds its lease)' if changed is None else changed}"
                )
            return
        say(f"worker running on {redact(state.settings.resolved_database_url)}; Ctrl-C stops it")
        task = asyncio.create_task(worker.run_forever(interval))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    _run(work)


# -- apps ---------------------------------------------------------------------------------

APP_COLUMNS = [
    "id",
    "name",
    "settings.idle_timeout_s",
    "settings.absolute_lifetime_s",
    "settings.timezone",
    "created_at",
]


@apps_cli.command("create")
def apps_create(
    name: str = typer.Argument(..., help="The app's name."),
    idle_timeout: int | None = typer.Option(None, help="Idle timeout in seconds (default 1800)."),
    lifetime: int | None = typer.Option(
        None, help="Absolute session lifetime in seconds (default 86400)."
    ),
    timezone: str | None = typer.Option(
        None, help="IANA timezone for daily reports (default UTC)."
    ),
    allowed_origin: list[str] | None = typer.Option(
        None,
        "--allowed-origin",
        help="An origin publishable keys may be used from, e.g. https://shop.example (repeatable).",
    ),
    max_sessions_per_user: int | None = typer.Option(
        None, help="Most active sessions one user may have (default: no limit)."
    ),
    limit_behaviour: Literal["deny", "evict_oldest"] | None = typer.Option(
        None, help="At the limit: deny the new session, or evict the oldest (default deny)."
    ),
    as_json: bool = AsJson,
) -> None:
    """Create an app (a tenant) and print it."""
    values = {
        "idle_timeout_s": idle_timeout,
        "absolute_lifetime_s": lifetime,
        "timezone": timezone,
        "allowed_origins": allowed_origin or None,
        "max_sessions_per_user": max_sessions_per_user,
        "session_limit_behaviour": limit_behaviour,
    }
    settings = _validated(AppSettings, {k: v for k, v in values.items() if v is not None})
    emit_one(_run(lambda engine: engine.apps.create(name, settings, actor="cli")), as_json)


@apps_cli.command("list")
def apps_list(as_json: bool = AsJson) -> None:
    """List every app."""
    emit_many(_run(lambda engine: engine.apps.list()), as_json, APP_COLUMNS)


@apps_cli.command("show")
def apps_show(
    app_id: str = typer.Argument(..., help="The app id."), as_json: bool = AsJson
) -> None:
    """Show one app with all its settings."""
    emit_one(_run(lambda engine: engine.apps.get(app_id)), as_json)


# -- keys ---------------------------------------------------------------------------------

KEY_COLUMNS = ["id", "kind", "app_id", "name", "prefix", "created_at", "expires_at", "revoked_at"]


@keys_cli.command("create")
def keys_create(
    kind: Literal["publishable", "secret", "admin"] = typer.Option(
        ..., help="publishable (pk_), secret (sk_) or admin (ak_)."
    ),
    app: str | None = typer.Option(None, help="The app id (publishable and secret keys)."),
    name: str = typer.Option("", help="A label for the key."),
    as_json: bool = AsJson,
) -> None:
    """Issue a key and print its token, the only time it is shown."""
    if kind == "admin" and app is not None:
        fail("admin keys belong to no app: leave out --app", 2)
    if kind != "admin" and app is None:
        fail(f"a {kind} key belongs to an app: give --app", 2)
    emit_one(_run(lambda engine: engine.keys.issue(kind, app, name, actor="cli")), as_json)


@keys_cli.command("list")
def keys_list(
    app: str | None = typer.Option(None, help="Only this app's keys."),
    revoked: bool = typer.Option(False, "--revoked", help="Include revoked and expired keys."),
    as_json: bool = AsJson,
) -> None:
    """List keys (never their tokens, only a prefix)."""
    emit_many(_run(lambda engine: engine.keys.list(app, revoked)), as_json, KEY_COLUMNS)


@keys_cli.command("rotate")
def keys_rotate(
    key_id: str = typer.Argument(..., help="The id of the key to replace (key_…)."),
    overlap: int = typer.Option(
        86400,
        min=0,
        max=30 * 86400,
        help="Seconds the old key keeps working (default 86400, a day; 0: stops now).",
    ),
    as_json: bool = AsJson,
) -> None:
    """Issue a replacement key of the same kind and app; print its token once."""
    emit_one(_run(lambda engine: engine.keys.rotate(key_id, overlap, actor="cli")), as_json)


@keys_cli.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The id of the key (key_…)."), as_json: bool = AsJson
) -> None:
    """Stop a key working at once."""
    emit_one(_run(lambda engine: engine.keys.revoke(key_id, actor="cli")), as_json)


# -- sessions -----------------------------------------------------------------------------

SESSION_COLUMNS = [
    "id",
    "kind",
    "status",
    "end_reason",
    "user_id",
    "device_id",
    "started_at",
    "duration_s",
]


@sessions_cli.command("list")
def sessions_list(
    app: str = AppOption,
    status: Literal["active", "ended"] | None = typer.Option(None, help="active or ended."),
    kind: Literal["visit", "conversation", "work"] | None = typer.Option(
        None, help="visit, conversation or work."
    ),
    user: str | None = typer.Option(None, help="Only this user's sessions."),
    device: str | None = typer.Option(None, help="Only this device's sessions."),
    limit: int = typer.Option(50, min=1, max=500, help="How many, at most (1-500)."),
    cursor: str | None = typer.Option(
        None, help="Continue after a previous page (its next cursor)."
    ),
    as_json: bool = AsJson,
) -> None:
    """List sessions, newest first, as they are now (an idle one reads as ended)."""
    filters = _validated(
        SessionFilter, {"status": status, "kind": kind, "user_id": user, "device_id": device}
    )

    async def work(engine: Engine) -> Any:
        await engine.apps.get(app)
        return await engine.sessions.list(app, filters, limit=limit, cursor=cursor)

    page = _run(work)
    if as_json:
        say(json.dumps(page.model_dump(mode="json"), indent=2))
        return
    emit_many(page.items, False, SESSION_COLUMNS)
    if page.next_cursor:
        say(f"more: --cursor {page.next_cursor}")


@sessions_cli.command("show")
def sessions_show(
    session_id: str = typer.Argument(..., help="The session id."),
    app: str = AppOption,
    as_json: bool = AsJson,
) -> None:
    """Show one session as it is now."""
    emit_one(_run(lambda engine: engine.sessions.get(app, session_id)), as_json)


@sessions_cli.command("end")
def sessions_end(
    session_id: str = typer.Argument(..., help="The session id."),
    app: str = AppOption,
    reason: Literal["logout", "timeout", "error", "navigation"] = typer.Option(
        "logout", help="logout, timeout, error or navigation."
    ),
    exit_page: str | None = typer.Option(None, help="The page the session ended on."),
    last_action: str | None = typer.Option(None, help="What the user did last."),
    revoke: bool = typer.Option(
        False, "--revoke", help="Revoke instead: end it now with reason 'revoked'."
    ),
    as_json: bool = AsJson,
) -> None:
    """End (or revoke) a running session."""
    if revoke:
        session = _run(lambda engine: engine.sessions.revoke(app, session_id))
    else:
        body = _validated(
            SessionEnd,
            {
                k: v
                for k, v in {
                    "reason": reason,
                    "exit_page": exit_page,
                    "last_action": last_action,
                }.items()
                if v is not None
            },
        )
        session = _run(lambda engine: engine.sessions.end(app, session_id, body))
    if as_json:
        emit_one(session, True)
    else:
        say(f"{session.id}: {session.status} ({session.end_reason})")


# -- export and import ---------------------------------------------------------------------


def _iso_ms(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} {value!r} is not an ISO 8601 date or time", 2)
    return to_ms(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


@cli.command("export")
def export_command(
    kind: str = typer.Argument(..., help="sessions or events."),
    app: str = typer.Option(..., help="The app id."),
    start: str | None = typer.Option(
        None, "--from", help="ISO 8601 start, inclusive (default: the beginning)."
    ),
    end: str | None = typer.Option(None, "--to", help="ISO 8601 end, exclusive (default: now)."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: standard output)."
    ),
) -> None:
    """Stream an app's sessions or events to a file (JSONL or CSV), with a progress bar."""
    if kind not in ("sessions", "events"):
        fail("KIND must be sessions or events", 2)
    if fmt not in ("jsonl", "csv"):
        fail("--format must be jsonl or csv", 2)
    lo = _iso_ms(start, "--from") or 0

    async def work(engine: Engine) -> int:
        hi = _iso_ms(end, "--to") or engine.clock.now_ms() + 1
        total = await transfer.count_records(engine, app, kind, lo, hi)  # type: ignore[arg-type]
        records = transfer.export_records(engine, app, kind, lo, hi)  # type: ignore[arg-type]
        sink = output.open("wb") if output else sys.stdout.buffer
        written = 0
        try:
            with Progress(console=Console(stderr=True), transient=output is None) as progress:
                task = progress.add_task(f"exporting {kind}", total=total)
                async for chunk in transfer.render(records, fmt):  # type: ignore[arg-type]
                    sink.write(chunk)
                    written += 1
                    progress.advance(task)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()
        return written - (1 if fmt == "csv" and written else 0)

    count = _run(work)
    print(f"exported {count} {kind}" + (f" to {output}" if output else ""), file=sys.stderr)


@cli.command("import")
def import_command(
    path: Path = typer.Argument(
        ..., help="A JSONL file: a Sessionhub export, or records in the documented shape."
    ),
    app: str = typer.Option(..., help="The app id to import into."),
    as_json: bool = AsJson,
) -> None:
    """Import sessions and events from JSONL; importing the same file twice changes nothing."""
    if not path.is_file():
        fail(f"no file at {path}", 2)

    size = path.stat().st_size

    async def work(engine: Engine) -> ImportResult:
        with path.open("rb") as lines, Progress(console=Console(stderr=True)) as progress:
            task = progress.add_task("importing", total=size)

            def moved(_records: int) -> None:
                progress.update(task, completed=lines.tell())

            return await transfer.import_lines(engine, app, lines, on_progress=moved)

    result = _run(work)
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    say(
        f"added {result.sessions} sessions and {result.events} events; {result.unchanged} already present"
    )
    for rejected in result.rejected[:50]:
        say(f"  line {rejected.line}: {rejected.message} ({rejected.code})")
    if len(result.rejected) > 50:
        say(f"  … and {len(result.rejected) - 50} more rejected lines")


# -- analytics -----------------------------------------------------------------------------


def _filter_option(text: str) -> dict[str, Any]:
    """``country=DE`` (is), ``country!=DE`` (is_not), ``page~blog`` (contains),
    ``page=~^/blog`` (matches); ``-`` as a value means none."""
    for token, op in (("=~", "matches"), ("!=", "is_not"), ("~", "contains"), ("=", "is")):
        if token in text:
            dimension, value = text.split(token, 1)
            return {
                "dimension": dimension.strip(),
                "op": op,
                "value": None if value == "-" and op in ("is", "is_not") else value,
            }
    fail(f"--filter {text!r} is not DIMENSION=VALUE, !=, ~ (contains) or =~ (regex)", 2)


@cli.command("query")
def query_command(
    app: str = typer.Option(..., "--app", help="The app id."),
    metrics: str = typer.Option(
        "sessions,visitors,bounce_rate,avg_duration",
        "--metrics",
        "-m",
        help="Comma-separated metrics.",
    ),
    dimensions: str = typer.Option("", "--dimensions", "-d", help="Comma-separated dimensions."),
    date_range: str = typer.Option(
        "30d", "--range", help="today, 24h, 7d, 30d, month, 12mo or all."
    ),
    start: str | None = typer.Option(
        None, "--from", help="Explicit start: a date or ISO 8601 time."
    ),
    end: str | None = typer.Option(None, "--to", help="Explicit end: a date (included) or time."),
    filters: list[str] = typer.Option(
        [], "--filter", "-f", help="DIMENSION=VALUE, !=, ~ (contains) or =~ (regex); repeatable."
    ),
    order_by: str | None = typer.Option(
        None, "--order-by", help="A metric or dimension; prefix with - for descending."
    ),
    compare: bool = typer.Option(False, "--compare", help="Compare with the previous period."),
    limit: int = typer.Option(100, "--limit", help="Rows to show."),
    spec: str | None = typer.Option(
        None, "--spec", help="A whole query as JSON (or @file.json); the other options are ignored."
    ),
    as_json: bool = AsJson,
) -> None:
    """Run an analytics query: metrics by dimensions over filtered sessions."""
    if spec is not None:
        raw = Path(spec[1:]).read_text() if spec.startswith("@") else spec
        try:
            body = json.loads(raw)
        except ValueError as exc:
            fail(f"--spec is not valid JSON: {exc}", 2)
    else:
        body = {
            "metrics": [m.strip() for m in metrics.split(",") if m.strip()],
            "dimensions": [d.strip() for d in dimensions.split(",") if d.strip()],
            "filters": [_filter_option(f) for f in filters],
            "date_range": {"from": start, "to": end} if start or end else date_range,
            "limit": limit,
        }
        if order_by:
            field = order_by.lstrip("-")
            body["order_by"] = [
                {"field": field, "direction": "desc" if order_by.startswith("-") else "asc"}
            ]
        if compare:
            body["compare"] = {"previous": True}
    result = _run(lambda engine: engine.analytics.query(app, body))
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    columns = [*result.dimensions, *result.metrics]
    lines = [columns]
    for row in result.rows:
        lines.append(
            [_text(row.dimensions[d]) for d in result.dimensions]
            + [_number(row.metrics[m]) for m in result.metrics]
        )
    lines.append(
        ["total", *([""] * (len(result.dimensions) - 1))][: len(result.dimensions)]
        + [_number(result.totals[m]) for m in result.metrics]
    )
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    say(f"{result.date_range.start} .. {result.date_range.end} ({result.timezone})")
    for line in lines:
        say("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if result.next_cursor:
        say(f"… more rows: --limit {limit * 2}")


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


# Commands of later capabilities live in modules of their own.
from sessionhub.cli_privacy import privacy_cli, subjects_cli  # noqa: E402

cli.add_typer(subjects_cli, name="subjects")
cli.add_typer(privacy_cli, name="privacy")

from sessionhub.cli_admin import (  # noqa: E402
    audit_cli,
    backup_command,
    bulk_cli,
    encryption_cli,
    restore_command,
)

cli.add_typer(audit_cli, name="audit")
cli.add_typer(bulk_cli, name="bulk")
cli.add_typer(encryption_cli, name="encryption")
cli.command("backup")(backup_command)
cli.command("restore")(restore_command)

from sessionhub.cli_demo import demo_command  # noqa: E402

cli.command("demo")(demo_command)

from sessionhub.cli_personalization import profiles_cli, recommend_cli  # noqa: E402

cli.add_typer(recommend_cli, name="recommend")
cli.add_typer(profiles_cli, name="profiles")


def main() -> None:
    """Entry point of the ``sessionhub`` script."""
    cli(prog_name="sessionhub")


if __name__ == "__main__":  # pragma: no cover
    main()
