"""Export and import: streamed JSONL/CSV out, idempotent JSONL in, over the API and the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from pathlib import Path

import httpx
from typer.testing import CliRunner

from sessionhub import Engine, FakeClock, Settings
from sessionhub.cli import cli
from sessionhub.models import SessionCreate
from tests.conftest import Keys, bearer


async def _fill(engine: Engine, app_id: str, clock: FakeClock) -> list[str]:
    """Two sessions with three events between them; returns the session ids."""
    a, _ = await engine.sessions.create(
        app_id, SessionCreate(user_id="u1", entry_page="https://s.example/a")
    )
    b, _ = await engine.sessions.create(
        app_id, SessionCreate(device_id="d2", metadata={"plan": "pro"})
    )
    await engine.events.ingest(
        app_id,
        [
            {"id": str(uuid.uuid4()), "session_id": a.id, "type": "page_view", "path": "/a"},
            {
                "id": str(uuid.uuid4()),
                "session_id": a.id,
                "type": "action",
                "properties": {"k": [1, 2]},
            },
            {"id": str(uuid.uuid4()), "session_id": b.id, "type": "page_view", "path": "/b"},
        ],
    )
    clock.advance(5)
    return [a.id, b.id]


async def test_export_then_import_into_another_app_is_exact_and_idempotent(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Exported sessions and events import into a fresh app unchanged, and a second import adds nothing."""
    await _fill(engine, keys.app_id, clock)
    sessions = (await api.get("/v1/export/sessions", headers=bearer(keys.secret))).text
    events = (await api.get("/v1/export/events", headers=bearer(keys.secret))).text
    other = await engine.apps.create("copy")
    secret = (await engine.keys.issue("secret", other.id)).token
    body = (sessions + events).encode()
    first = await api.post("/v1/import", content=body, headers=bearer(secret))
    again = await api.post("/v1/import", content=body, headers=bearer(secret))
    assert (2, 3, 0, []) == tuple(
        first.json()[k] for k in ("sessions", "events", "unchanged", "rejected")
    )
    assert (0, 0, 5) == tuple(again.json()[k] for k in ("sessions", "events", "unchanged"))
    copied = (await api.get("/v1/export/sessions", headers=bearer(secret))).text
    assert _lines(sessions) == _lines(copied)
    copied_events = (await api.get("/v1/export/events", headers=bearer(secret))).text
    assert _lines(events) == _lines(copied_events)


async def test_export_range_and_csv(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """from/to bound the export, and CSV flattens nested fields into columns."""
    await _fill(engine, keys.app_id, clock)
    clock.advance(3600)
    later, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    response = await api.get(
        "/v1/export/sessions",
        params={"from": "2026-01-01T00:30:00Z", "format": "csv"},
        headers=bearer(keys.secret),
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert "text/csv" in response.headers["content-type"]
    assert [later.id] == [row["id"] for row in rows]
    assert {"device.type", "campaign.source", "location.country", "metadata"} <= set(rows[0])
    bad = await api.get(
        "/v1/export/sessions",
        params={"from": "2026-02-01", "to": "2026-01-01"},
        headers=bearer(keys.secret),
    )
    assert 422 == bad.status_code


async def test_import_reports_rejected_lines_and_keeps_the_rest(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Hand-made JSONL (sessions a client kept in localStorage) imports; bad lines come back by number."""
    lines = [
        {
            "record": "session",
            "id": "legacy-1",
            "started_at": "2025-12-30T10:00:00Z",
            "last_activity_at": "2025-12-30T10:05:00Z",
            "ended_at": "2025-12-30T10:05:00Z",
            "user_id": "u7",
        },
        {
            "record": "event",
            "id": "e-1",
            "session_id": "legacy-1",
            "type": "page_view",
            "timestamp": "2025-12-30T10:00:00Z",
            "path": "/",
        },
        {
            "record": "event",
            "id": "e-2",
            "session_id": "nowhere",
            "type": "page_view",
            "timestamp": "2025-12-30T10:00:00Z",
        },
        {"record": "session", "id": "has spaces", "started_at": "2025-12-30T10:00:00Z"},
        {"record": "thing"},
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    result = (await api.post("/v1/import", content=body, headers=bearer(keys.secret))).json()
    assert (1, 1) == (result["sessions"], result["events"])
    assert [3, 4, 5, 6] == [r["line"] for r in result["rejected"]]
    session = (await api.get("/v1/sessions/legacy-1", headers=bearer(keys.secret))).json()
    assert ("ended", 300.0, "u7") == (session["status"], session["duration_s"], session["user_id"])


async def test_export_and_import_need_a_secret_key(api: httpx.AsyncClient, keys: Keys) -> None:
    """Publishable keys can neither download nor load data."""
    assert 403 == (await api.get("/v1/export/events", headers=bearer(keys.publishable))).status_code
    assert (
        403
        == (await api.post("/v1/import", content=b"", headers=bearer(keys.publishable))).status_code
    )


def test_cli_export_and_import(database_url: str, tmp_path: Path) -> None:
    """`sessionhub export` writes the records to a file and `sessionhub import` loads them elsewhere, once."""

    async def setup() -> tuple[str, str]:
        clock = FakeClock()
        async with Engine(Settings(database_url=database_url), clock=clock) as engine:
            source = await engine.apps.create("source")
            await _fill(engine, source.id, clock)
            target = await engine.apps.create("copy")
            return source.id, target.id

    source_id, target_id = asyncio.run(setup())
    runner = CliRunner()
    base = ["--database-url", database_url]
    files = []
    for kind in ("sessions", "events"):
        target = tmp_path / f"{kind}.jsonl"
        done = runner.invoke(cli, [*base, "export", kind, "--app", source_id, "-o", str(target)])
        assert 0 == done.exit_code, done.output
        files.append(target.read_text())
    combined = tmp_path / "all.jsonl"
    combined.write_text("".join(files))
    first = runner.invoke(cli, [*base, "import", str(combined), "--app", target_id, "--json"])
    again = runner.invoke(cli, [*base, "import", str(combined), "--app", target_id, "--json"])
    assert 0 == first.exit_code, first.output
    loaded = json.loads(_json_part(first.output))
    assert (2, 3) == (loaded["sessions"], loaded["events"])
    assert 5 == json.loads(_json_part(again.output))["unchanged"]
    bad = runner.invoke(cli, [*base, "export", "things", "--app", source_id])
    assert 2 == bad.exit_code


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line]


def _json_part(output: str) -> str:
    """The JSON document in the CLI output (the progress bar goes to stderr, mixed in by the runner)."""
    return output[output.index("{") : output.rindex("}") + 1]
