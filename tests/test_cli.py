"""The ``sessionhub`` command, through Typer's runner, on each backend.

Sessions are made with an ``Engine`` on the same database; the CLI then has to see and
change exactly what the engine wrote.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import Result
from sqlalchemy import create_engine
from typer.testing import CliRunner

from sessionhub import Engine, FakeClock, Settings, Unauthorized, __version__
from sessionhub.cli import cli
from sessionhub.core.apps import Caller
from sessionhub.models import Session, SessionCreate
from sessionhub.storage.migrate import table_names
from sessionhub.storage.schema import metadata

T = TypeVar("T")


def sessionhub(database_url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``sessionhub --database-url URL ARGS…`` in-process."""
    return CliRunner().invoke(cli, ["--database-url", database_url, *args], env=env)


def ok_json(result: Result) -> Any:
    """The parsed stdout of a command that must have succeeded."""
    assert (0, "") == (result.exit_code, result.stderr)
    return json.loads(result.stdout)


def with_engine(
    database_url: str, work: Callable[[Engine], Awaitable[T]], clock: FakeClock | None = None
) -> T:
    """Run ``work`` with an engine on the same database as the CLI."""

    async def run() -> T:
        engine = await Engine(Settings(database_url=database_url), clock=clock).start(migrate=False)
        try:
            return await work(engine)
        finally:
            await engine.close()

    return asyncio.run(run())


def new_app(database_url: str) -> str:
    return str(ok_json(sessionhub(database_url, "apps", "create", "shop", "--json"))["id"])


def start_session(database_url: str, app_id: str, **fields: Any) -> Session:
    async def work(engine: Engine) -> Session:
        session, _ = await engine.sessions.create(app_id, SessionCreate(**fields))
        return session

    return with_engine(database_url, work)


def authenticate(database_url: str, token: str) -> Caller:
    return with_engine(database_url, lambda engine: engine.keys.authenticate(token))


# -- version, migrate, config -------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    """`sessionhub version` prints the installed version and nothing else."""
    result = CliRunner().invoke(cli, ["version"])
    assert (0, f"{__version__}\n") == (result.exit_code, result.stdout)


def test_migrate_creates_the_schema_in_a_new_sqlite_file(tmp_path: Path) -> None:
    """`migrate` on a file that does not exist yet creates it with every table of the schema."""
    url = f"sqlite:///{tmp_path / 'new' / 'sessionhub.db'}"
    result = sessionhub(url, "migrate")
    assert (0, f"database is up to date: {url}\n") == (result.exit_code, result.stdout)
    with create_engine(url).connect() as conn:
        assert set(metadata.tables) == set(table_names(conn)) - {"alembic_version"}


def test_migrate_is_safe_to_run_again(database_url: str) -> None:
    """`migrate` on an up-to-date database changes nothing and succeeds."""
    app_id = new_app(database_url)
    result = sessionhub(database_url, "migrate")
    assert 0 == result.exit_code
    assert [app_id] == [
        a["id"] for a in ok_json(sessionhub(database_url, "apps", "list", "--json"))
    ]


def test_config_shows_values_with_url_passwords_hidden() -> None:
    """`config` prints each setting's value as used, never a database password."""
    result = CliRunner().invoke(
        cli, ["--database-url", "postgresql://app:s3cret@db.internal/sh", "config"]
    )
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if " " in line)
    assert (0, "postgresql://app:***@db.internal/sh") == (
        result.exit_code,
        lines["SESSIONHUB_DATABASE_URL"],
    )
    assert "s3cret" not in result.stdout


def test_an_invalid_environment_variable_exits_2() -> None:
    """A setting of the wrong type stops the command with exit 2 and names the variable."""
    result = CliRunner().invoke(cli, ["version"], env={"SESSIONHUB_PORT": "eighty"})
    assert (2, "error: SESSIONHUB_PORT='eighty' is not a valid int\n") == (
        result.exit_code,
        result.stderr,
    )


# -- apps ---------------------------------------------------------------------------------


def test_apps_create_stores_the_given_settings(database_url: str) -> None:
    """`apps create` with options stores them, and `apps list` returns the app with them."""
    created = ok_json(
        sessionhub(
            database_url,
            "apps",
            "create",
            "chat",
            "--idle-timeout",
            "900",
            "--lifetime",
            "3600",
            "--timezone",
            "Europe/Berlin",
            "--allowed-origin",
            "https://a.example",
            "--allowed-origin",
            "https://b.example",
            "--max-sessions-per-user",
            "2",
            "--limit-behaviour",
            "evict_oldest",
            "--json",
        )
    )
    wanted = {
        "idle_timeout_s": 900,
        "absolute_lifetime_s": 3600,
        "timezone": "Europe/Berlin",
        "allowed_origins": ["https://a.example", "https://b.example"],
        "max_sessions_per_user": 2,
        "session_limit_behaviour": "evict_oldest",
    }
    assert wanted == {k: created["settings"][k] for k in wanted}
    listed = ok_json(sessionhub(database_url, "apps", "list", "--json"))
    assert [(created["id"], "chat", wanted)] == [
        (a["id"], a["name"], {k: a["settings"][k] for k in wanted}) for a in listed
    ]


def test_apps_list_text_shows_whole_ids(database_url: str) -> None:
    """The text table of `apps list` prints each id in full, never cut short."""
    app_id = new_app(database_url)
    result = sessionhub(database_url, "apps", "list")
    rows = [line.split()[:2] for line in result.stdout.splitlines()[1:]]
    assert (0, [[app_id, "shop"]]) == (result.exit_code, rows)


def test_apps_show_prints_every_setting(database_url: str) -> None:
    """`apps show` prints one line per field, settings flattened (settings.timezone …)."""
    app_id = new_app(database_url)
    result = sessionhub(database_url, "apps", "show", app_id)
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert (0, app_id, "1800", "UTC") == (
        result.exit_code,
        fields["id"],
        fields["settings.idle_timeout_s"],
        fields["settings.timezone"],
    )


# -- keys ---------------------------------------------------------------------------------


def test_keys_create_prints_a_token_that_authenticates(database_url: str) -> None:
    """`keys create --json` prints a token the engine accepts as that app's key."""
    app_id = new_app(database_url)
    key = ok_json(
        sessionhub(database_url, "keys", "create", "--kind", "secret", "--app", app_id, "--json")
    )
    caller = authenticate(database_url, key["token"])
    assert Caller(key_id=key["id"], kind="secret", app_id=app_id) == caller


def test_keys_create_text_prints_the_whole_token(database_url: str) -> None:
    """The text output of `keys create` holds the full token (it is shown only once)."""
    result = sessionhub(database_url, "keys", "create", "--kind", "admin", "--name", "ops")
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert (0, "admin") == (result.exit_code, authenticate(database_url, fields["token"]).kind)


def test_keys_list_shows_keys_without_tokens(database_url: str) -> None:
    """`keys list` lists the app's keys with a prefix and never a token."""
    app_id = new_app(database_url)
    pk = ok_json(
        sessionhub(
            database_url, "keys", "create", "--kind", "publishable", "--app", app_id, "--json"
        )
    )
    listed = ok_json(sessionhub(database_url, "keys", "list", "--app", app_id, "--json"))
    assert [(pk["id"], pk["token"][:10], False)] == [
        (k["id"], k["prefix"], "token" in k) for k in listed
    ]


def test_keys_revoke_stops_the_key(database_url: str) -> None:
    """A key revoked with `keys revoke` no longer authenticates, and lists only with --revoked."""
    app_id = new_app(database_url)
    key = ok_json(
        sessionhub(database_url, "keys", "create", "--kind", "secret", "--app", app_id, "--json")
    )
    revoked = ok_json(sessionhub(database_url, "keys", "revoke", key["id"], "--json"))
    assert revoked["revoked_at"] is not None
    with pytest.raises(Unauthorized):
        authenticate(database_url, key["token"])
    active = ok_json(sessionhub(database_url, "keys", "list", "--app", app_id, "--json"))
    everything = ok_json(
        sessionhub(database_url, "keys", "list", "--app", app_id, "--revoked", "--json")
    )
    assert ([], [key["id"]]) == ([k["id"] for k in active], [k["id"] for k in everything])


def test_keys_rotate_replaces_the_key_at_once(database_url: str) -> None:
    """`keys rotate --overlap 0` gives a working new key and stops the old one."""
    app_id = new_app(database_url)
    old = ok_json(
        sessionhub(
            database_url, "keys", "create", "--kind", "publishable", "--app", app_id, "--json"
        )
    )
    new = ok_json(sessionhub(database_url, "keys", "rotate", old["id"], "--overlap", "0", "--json"))
    caller = authenticate(database_url, new["token"])
    assert ("publishable", app_id) == (caller.kind, caller.app_id)
    with pytest.raises(Unauthorized):
        authenticate(database_url, old["token"])


def test_keys_rotate_with_overlap_keeps_the_old_key_for_a_while(database_url: str) -> None:
    """`keys rotate --overlap 3600` leaves the old key working, expiring an hour later."""
    app_id = new_app(database_url)
    old = ok_json(
        sessionhub(database_url, "keys", "create", "--kind", "secret", "--app", app_id, "--json")
    )
    before = datetime.now(UTC)
    ok_json(sessionhub(database_url, "keys", "rotate", old["id"], "--overlap", "3600", "--json"))
    assert old["id"] == authenticate(database_url, old["token"]).key_id
    listed = ok_json(sessionhub(database_url, "keys", "list", "--app", app_id, "--json"))
    expires = datetime.fromisoformat(next(k for k in listed if k["id"] == old["id"])["expires_at"])
    assert True is (
        before + timedelta(seconds=3590) < expires < datetime.now(UTC) + timedelta(seconds=3610)
    )


# -- sessions -----------------------------------------------------------------------------


def test_sessions_list_shows_only_the_apps_sessions(database_url: str) -> None:
    """`sessions list --app` lists that app's sessions newest first, filtered by user."""
    app_id, other = new_app(database_url), new_app(database_url)
    first = start_session(database_url, app_id, user_id="u1")
    second = start_session(database_url, app_id, user_id="u2")
    start_session(database_url, other, user_id="u1")
    everything = ok_json(sessionhub(database_url, "sessions", "list", "--app", app_id, "--json"))
    only_u1 = ok_json(
        sessionhub(database_url, "sessions", "list", "--app", app_id, "--user", "u1", "--json")
    )
    assert ({second.id, first.id}, [first.id]) == (
        {s["id"] for s in everything["items"]},
        [s["id"] for s in only_u1["items"]],
    )


def test_sessions_list_pages_with_the_cursor(database_url: str) -> None:
    """`--limit 1` gives a next cursor and `--cursor` the next page, until none is left."""
    app_id = new_app(database_url)
    ids = {start_session(database_url, app_id).id for _ in range(2)}
    first = ok_json(
        sessionhub(database_url, "sessions", "list", "--app", app_id, "--limit", "1", "--json")
    )
    second = ok_json(
        sessionhub(
            database_url,
            "sessions",
            "list",
            "--app",
            app_id,
            "--limit",
            "1",
            "--cursor",
            first["next_cursor"],
            "--json",
        )
    )
    assert (ids, None) == (
        {first["items"][0]["id"], second["items"][0]["id"]},
        second["next_cursor"],
    )
    text = sessionhub(database_url, "sessions", "list", "--app", app_id, "--limit", "1")
    assert f"more: --cursor {first['next_cursor']}" == text.stdout.splitlines()[-1]


def test_sessions_list_status_filter_applies_the_idle_timeout(database_url: str) -> None:
    """A session idle past its timeout is listed as ended, though the worker never ran."""
    app_id = new_app(database_url)
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=2))

    async def old_session(engine: Engine) -> Session:
        session, _ = await engine.sessions.create(app_id, SessionCreate())
        return session

    stale = with_engine(database_url, old_session, clock)
    fresh = start_session(database_url, app_id)
    active = ok_json(
        sessionhub(
            database_url, "sessions", "list", "--app", app_id, "--status", "active", "--json"
        )
    )
    ended = ok_json(
        sessionhub(database_url, "sessions", "list", "--app", app_id, "--status", "ended", "--json")
    )
    assert ([fresh.id], [(stale.id, "timeout")]) == (
        [s["id"] for s in active["items"]],
        [(s["id"], s["end_reason"]) for s in ended["items"]],
    )


def test_sessions_show_prints_the_session(database_url: str) -> None:
    """`sessions show` prints the session the engine created, as JSON or as field lines."""
    app_id = new_app(database_url)
    session = start_session(database_url, app_id, user_id="u1", metadata={"plan": "pro"})
    shown = ok_json(
        sessionhub(database_url, "sessions", "show", session.id, "--app", app_id, "--json")
    )
    text = sessionhub(database_url, "sessions", "show", session.id, "--app", app_id)
    fields = dict(line.split(None, 1) for line in text.stdout.splitlines())
    assert (session.model_dump(mode="json"), "active", '{"plan": "pro"}') == (
        shown,
        fields["status"],
        fields["metadata"],
    )


def test_sessions_end_ends_with_the_reason(database_url: str) -> None:
    """`sessions end --reason` ends the session for every reader, with reason and exit page."""
    app_id = new_app(database_url)
    session = start_session(database_url, app_id)
    result = sessionhub(
        database_url,
        "sessions",
        "end",
        session.id,
        "--app",
        app_id,
        "--reason",
        "navigation",
        "--exit-page",
        "/checkout",
    )
    assert (0, f"{session.id}: ended (navigation)\n") == (result.exit_code, result.stdout)
    stored = with_engine(database_url, lambda engine: engine.sessions.get(app_id, session.id))
    assert ("ended", "navigation", "/checkout") == (
        stored.status,
        stored.end_reason,
        stored.exit_page,
    )


def test_sessions_end_of_an_ended_session_exits_1(database_url: str) -> None:
    """Ending a session twice fails the second time with session_ended: nothing revives it."""
    app_id = new_app(database_url)
    session = start_session(database_url, app_id)
    assert 0 == sessionhub(database_url, "sessions", "end", session.id, "--app", app_id).exit_code
    again = sessionhub(database_url, "sessions", "end", session.id, "--app", app_id)
    assert (1, True) == (again.exit_code, again.stderr.endswith("(session_ended)\n"))


def test_sessions_end_revoke_revokes(database_url: str) -> None:
    """`sessions end --revoke` ends the session with reason revoked."""
    app_id = new_app(database_url)
    session = start_session(database_url, app_id, user_id="u1")
    ended = ok_json(
        sessionhub(
            database_url, "sessions", "end", session.id, "--app", app_id, "--revoke", "--json"
        )
    )
    assert ("ended", "revoked") == (ended["status"], ended["end_reason"])


# -- worker -------------------------------------------------------------------------------

SESSION_JOBS = ("expire_sessions", "purge_deleted_sessions")


def test_worker_once_ends_due_sessions_and_purges_deleted_ones(database_url: str) -> None:
    """`worker --once` writes down the end of an idle session and removes a deleted one, once."""
    app_id = new_app(database_url)
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=2))

    async def setup(engine: Engine) -> None:
        await engine.sessions.create(app_id, SessionCreate())
        doomed, _ = await engine.sessions.create(app_id, SessionCreate(kind="work"))
        await engine.sessions.delete(app_id, doomed.id)

    with_engine(database_url, setup, clock)
    first = ok_json(sessionhub(database_url, "worker", "--once", "--json"))
    second = ok_json(sessionhub(database_url, "worker", "--once", "--json"))
    assert ({SESSION_JOBS[0]: 1, SESSION_JOBS[1]: 1}, {SESSION_JOBS[0]: 0, SESSION_JOBS[1]: 0}) == (
        {job: first[job] for job in SESSION_JOBS},
        {job: second[job] for job in SESSION_JOBS},
    )


def test_worker_once_text_names_each_job(database_url: str) -> None:
    """`worker --once` prints one `job: rows` line per job."""
    result = sessionhub(database_url, "worker", "--once")
    lines = [line for line in result.stdout.splitlines() if line.split(":")[0] in SESSION_JOBS]
    assert (0, ["expire_sessions: 0", "purge_deleted_sessions: 0"]) == (result.exit_code, lines)


# -- bad input and JSON output ------------------------------------------------------------

BAD_INPUT = [
    pytest.param(["keys", "create", "--kind", "root"], 2, "Invalid value for '--kind'", id="kind"),
    pytest.param(["keys", "create", "--kind", "secret"], 2, "give --app", id="key-needs-app"),
    pytest.param(
        ["keys", "create", "--kind", "admin", "--app", "APP"],
        2,
        "leave out --app",
        id="admin-no-app",
    ),
    pytest.param(
        ["apps", "create", "x", "--timezone", "Mars/Base"],
        2,
        "unknown timezone 'Mars/Base'",
        id="timezone",
    ),
    pytest.param(["apps", "create", "x", "--idle-timeout", "0"], 2, "idle_timeout_s", id="timeout"),
    pytest.param(["sessions", "list", "--app", "APP", "--limit", "0"], 2, "--limit", id="limit"),
    pytest.param(
        ["sessions", "list", "--app", "APP", "--status", "asleep"], 2, "--status", id="status"
    ),
    pytest.param(
        ["sessions", "end", "S", "--app", "APP", "--reason", "bored"], 2, "--reason", id="reason"
    ),
    pytest.param(
        ["sessions", "list", "--app", "app_nope"],
        1,
        "No app 'app_nope'. (not_found)",
        id="unknown-app",
    ),
    pytest.param(
        ["sessions", "show", "ses_nope", "--app", "APP"],
        1,
        "No session 'ses_nope'.",
        id="unknown-session",
    ),
    pytest.param(["keys", "revoke", "key_nope"], 1, "No key 'key_nope'.", id="unknown-key"),
    pytest.param(["keys", "rotate", "key_nope", "--overlap", "-1"], 2, "--overlap", id="overlap"),
    pytest.param(["nonsense"], 2, "No such command", id="command"),
]


@pytest.mark.parametrize(("args", "status", "message"), BAD_INPUT)
def test_bad_input_exits_non_zero_with_a_clear_message(
    database_url: str, args: list[str], status: int, message: str
) -> None:
    """Wrong input exits 2 and a failed operation exits 1, saying what was wrong on stderr."""
    app_id = new_app(database_url)
    result = sessionhub(database_url, *[app_id if a == "APP" else a for a in args])
    assert (status, "", True) == (result.exit_code, result.stdout, message in result.stderr)


def test_an_unreachable_database_exits_1_without_a_traceback() -> None:
    """A database that does not answer is one error line naming the cause, exit 1."""
    result = sessionhub("postgresql://postgres@127.0.0.1:9/nowhere", "apps", "list")
    assert (1, True, 1) == (
        result.exit_code,
        result.stderr.startswith("error: Could not migrate the database: "),
        len(result.stderr.strip().splitlines()),
    )


def test_an_unsupported_database_url_exits_1() -> None:
    """A URL that names no supported database says which ones are."""
    result = sessionhub("mysql://localhost/x", "migrate")
    assert (1, True) == (
        result.exit_code,
        "use sqlite:/// or postgresql://" in result.stderr,
    )


JSON_COMMANDS = [
    (["apps", "list", "--json"], list),
    (["apps", "show", "APP", "--json"], dict),
    (["keys", "list", "--json"], list),
    (["keys", "create", "--kind", "publishable", "--app", "APP", "--json"], dict),
    (["sessions", "list", "--app", "APP", "--json"], dict),
    (["sessions", "show", "SESSION", "--app", "APP", "--json"], dict),
    (["sessions", "end", "SESSION", "--app", "APP", "--json"], dict),
    (["worker", "--once", "--json"], dict),
]


@pytest.mark.parametrize(
    ("args", "shape"), JSON_COMMANDS, ids=[" ".join(a[:2]) for a, _ in JSON_COMMANDS]
)
def test_json_output_is_one_json_document(database_url: str, args: list[str], shape: type) -> None:
    """With --json, stdout is exactly one JSON object or array (json.loads rejects anything more)."""
    app_id = new_app(database_url)
    session = start_session(database_url, app_id)
    values = {"APP": app_id, "SESSION": session.id}
    parsed = ok_json(sessionhub(database_url, *[values.get(a, a) for a in args]))
    assert shape is type(parsed)


# -- the installed executable -------------------------------------------------------------


def test_the_installed_executable_runs(database_url: str) -> None:
    """The `sessionhub` script on PATH of the venv creates an app the engine then sees."""
    executable = Path(sys.executable).with_name("sessionhub")
    done = subprocess.run(
        [str(executable), "--database-url", database_url, "apps", "create", "shop", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (0, "") == (done.returncode, done.stderr)
    created = json.loads(done.stdout)
    stored = with_engine(database_url, lambda engine: engine.apps.get(created["id"]))
    assert (created["id"], "shop") == (stored.id, stored.name)
