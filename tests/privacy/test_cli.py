"""``sessionhub subjects find|export|erase`` and ``sessionhub privacy report``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sessionhub import Engine
from sessionhub.cli import cli
from sessionhub.models import SessionCreate
from tests.test_cli import new_app, ok_json, sessionhub, with_engine


def _seed(database_url: str, app_id: str, user_id: str) -> str:
    async def work(engine: Engine) -> str:
        session, _ = await engine.sessions.create(app_id, SessionCreate(user_id=user_id))
        batch = [{"session_id": session.id, "type": "action"} for _ in range(3)]
        await engine.events.ingest(app_id, batch)
        return session.id

    return with_engine(database_url, work)


def test_find_export_and_erase_a_user_from_the_command_line(
    database_url: str, tmp_path: Path
) -> None:
    """find counts the user's records, export writes them to a file, erase removes them: found again, nothing."""
    app_id = new_app(database_url)
    _seed(database_url, app_id, "cli-user")
    found = ok_json(
        sessionhub(
            database_url, "subjects", "find", "--app", app_id, "--user", "cli-user", "--json"
        )
    )
    target = tmp_path / "export.json"
    exported = sessionhub(
        database_url, "subjects", "export", "--app", app_id, "--user", "cli-user", "-o", str(target)
    )
    erased = ok_json(
        sessionhub(
            database_url,
            "subjects",
            "erase",
            "--app",
            app_id,
            "--user",
            "cli-user",
            "--yes",
            "--json",
        )
    )
    again = ok_json(
        sessionhub(
            database_url, "subjects", "find", "--app", app_id, "--user", "cli-user", "--json"
        )
    )
    document = json.loads(target.read_text())
    assert (1, 3) == (found["records"]["sessions"], found["records"]["events"])
    assert (0, 3) == (exported.exit_code, len(document["sections"]["events"]["records"]))
    assert 3 == erased["records"]["events"]
    assert 0 == sum(again["records"].values())


def test_erase_asks_first_and_a_no_erases_nothing(database_url: str) -> None:
    """Without --yes erase asks; answering no exits 1 and leaves the subject as it was."""
    app_id = new_app(database_url)
    _seed(database_url, app_id, "keep-me")
    refused = CliRunner().invoke(
        cli,
        ["--database-url", database_url, "subjects", "erase", "--app", app_id, "--user", "keep-me"],
        input="n\n",
    )
    found = ok_json(
        sessionhub(database_url, "subjects", "find", "--app", app_id, "--user", "keep-me", "--json")
    )
    assert (1, 1) == (refused.exit_code, found["records"]["sessions"])


def test_a_subject_needs_exactly_one_of_user_and_device(database_url: str) -> None:
    """Giving both --user and --device (or neither) is a usage error, exit 2."""
    app_id = new_app(database_url)
    both = sessionhub(
        database_url, "subjects", "find", "--app", app_id, "--user", "u", "--device", "d"
    )
    neither = sessionhub(database_url, "subjects", "find", "--app", app_id)
    assert (2, 2) == (both.exit_code, neither.exit_code)


def test_the_privacy_report_from_the_command_line(database_url: str) -> None:
    """privacy report --json prints the report: subjects, consent, requests and retention."""
    app_id = new_app(database_url)
    _seed(database_url, app_id, "reported")
    report = ok_json(sessionhub(database_url, "privacy", "report", "--app", app_id, "--json"))
    assert ({"users": 1, "devices": 0}, "opt_out", 30) == (
        report["subjects"],
        report["consent_mode"],
        report["retention"]["events"]["days"],
    )
