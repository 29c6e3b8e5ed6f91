"""Bulk update and bulk delete of sessions by filter: dry runs, what changes, isolation, audit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from sessionhub import Engine, FakeClock, NotFound, Settings
from sessionhub.cli import cli
from sessionhub.core.audit import subject_ref
from sessionhub.models import SessionCreate
from tests.conftest import Keys, bearer


async def _start(engine: Engine, app_id: str, sid: str, **fields: Any) -> None:
    await engine.sessions.create(app_id, SessionCreate(id=sid, **fields))


async def _ids(engine: Engine, app_id: str) -> list[str]:
    return sorted(s.id for s in (await engine.sessions.list(app_id, limit=500)).items)


async def _bulk_entries(engine: Engine) -> list[Any]:
    return (await engine.audit.list(action="sessions.")).items


async def test_a_dry_run_counts_and_touches_nothing(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """dry_run answers how many sessions match, and deletes nothing and records nothing."""
    for i in range(3):
        await _start(engine, keys.app_id, f"s{i}", user_id="alice")
    await _start(engine, keys.app_id, "other", user_id="bob")
    response = await api.post(
        "/v1/sessions/bulk/delete",
        json={"filter": {"user_id": "alice"}, "dry_run": True},
        headers=bearer(keys.secret),
    )
    assert {"dry_run": True, "matched": 3, "changed": 0} == response.json()
    assert (["other", "s0", "s1", "s2"], []) == (
        await _ids(engine, keys.app_id),
        await _bulk_entries(engine),
    )


async def test_bulk_delete_removes_the_matches_only_and_is_audited(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """The matching sessions are gone (404), the rest stay, and one entry records it with the user hashed."""
    for i in range(3):
        await _start(engine, keys.app_id, f"s{i}", user_id="alice")
    await _start(engine, keys.app_id, "other", user_id="bob")
    response = await api.post(
        "/v1/sessions/bulk/delete",
        json={"filter": {"user_id": "alice"}},
        headers=bearer(keys.secret),
    )
    with pytest.raises(NotFound):
        await engine.sessions.get(keys.app_id, "s0")
    entries = await _bulk_entries(engine)
    assert {"dry_run": False, "matched": 3, "changed": 3} == response.json()
    assert ["other"] == await _ids(engine, keys.app_id)
    assert [("sessions.bulk_delete", keys.app_id)] == [(e.action, e.app_id) for e in entries]
    assert {"user_id": subject_ref("alice")} == entries[0].details["filter"]
    assert "alice" not in json.dumps(entries[0].details)


async def test_a_freed_id_can_be_used_again_after_a_bulk_delete(engine: Engine, keys: Keys) -> None:
    """As with one delete, a bulk-deleted session's id is free at once for a new session."""
    await _start(engine, keys.app_id, "s1", kind="conversation")
    await engine.bulk.delete(keys.app_id, _delete({"kind": "conversation"}))
    session, created = await engine.sessions.create(keys.app_id, SessionCreate(id="s1"))
    assert (True, "active") == (created, session.status)


def _delete(filter: dict[str, Any], dry_run: bool = False) -> Any:
    from sessionhub.models.audit import BulkDelete

    return BulkDelete.model_validate({"filter": filter, "dry_run": dry_run})


def _update(filter: dict[str, Any], changes: dict[str, Any], dry_run: bool = False) -> Any:
    from sessionhub.models.audit import BulkUpdate

    return BulkUpdate.model_validate({"filter": filter, "set": changes, "dry_run": dry_run})


async def test_bulk_end_revokes_the_running_matches(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """set.end ends the running matching sessions as revoked; ended ones and other kinds are untouched."""
    await _start(engine, keys.app_id, "c1", kind="conversation")
    await _start(engine, keys.app_id, "c2", kind="conversation")
    await _start(engine, keys.app_id, "v1", kind="visit")
    await engine.sessions.revoke(keys.app_id, "c2")
    clock.advance(5)
    result = await engine.bulk.update(keys.app_id, _update({"kind": "conversation"}, {"end": True}))
    states = {
        s.id: (s.status, s.end_reason) for s in (await engine.sessions.list(keys.app_id)).items
    }
    assert (2, 1) == (result.matched, result.changed)
    assert {
        "c1": ("ended", "revoked"),
        "c2": ("ended", "revoked"),
        "v1": ("active", None),
    } == states


async def test_bulk_update_merge_patches_metadata_within_a_time_range(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """set.metadata is a merge patch applied to each session that started inside the range."""
    await _start(engine, keys.app_id, "early", metadata={"plan": "free", "x": 1})
    clock.advance(3600)
    since = clock.now_ms()
    await _start(engine, keys.app_id, "late", metadata={"plan": "free", "x": 1})
    from sessionhub.clock import from_ms

    result = await engine.bulk.update(
        keys.app_id,
        _update({"started_from": from_ms(since)}, {"metadata": {"plan": "gold", "x": None}}),
    )
    early = await engine.sessions.get(keys.app_id, "early")
    late = await engine.sessions.get(keys.app_id, "late")
    assert (1, 1) == (result.matched, result.changed)
    assert ({"plan": "free", "x": 1}, {"plan": "gold"}) == (early.metadata, late.metadata)


async def test_a_bulk_operation_never_reaches_another_app(engine: Engine, keys: Keys) -> None:
    """A filter matching sessions of two apps changes only the caller's app."""
    other = await engine.apps.create("other")
    await _start(engine, keys.app_id, "mine", user_id="u")
    await _start(engine, other.id, "theirs", user_id="u")
    await engine.bulk.delete(keys.app_id, _delete({"user_id": "u"}))
    assert ([], ["theirs"]) == (await _ids(engine, keys.app_id), await _ids(engine, other.id))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("delete", {"filter": {}}, "filter"),
        ("update", {"filter": {"kind": "visit"}, "set": {}}, "set"),
        ("delete", {"filter": {"colour": "red"}}, "colour"),
    ],
    ids=["empty-filter", "nothing-to-change", "unknown-condition"],
)
async def test_a_bulk_request_that_could_surprise_is_refused(
    api: httpx.AsyncClient, keys: Keys, path: str, body: dict[str, Any], field: str
) -> None:
    """An empty filter (everything), an empty change set and unknown conditions are 422s naming the field."""
    response = await api.post(f"/v1/sessions/bulk/{path}", json=body, headers=bearer(keys.secret))
    assert 422 == response.status_code
    assert field in json.dumps(response.json()["error"]["details"])


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_bulk_delete_dry_run_then_delete(database_url: str) -> None:
    """`bulk delete --dry-run` counts, then without it deletes, each printing the counts."""

    async def setup() -> str:
        engine = await Engine(Settings(database_url=database_url)).start(migrate=False)
        try:
            app = await engine.apps.create("shop")
            for i in range(4):
                await _start(engine, app.id, f"s{i}", device_id="d1" if i < 3 else "d2")
            return app.id
        finally:
            await engine.close()

    app_id = asyncio.run(setup())
    base = ["--database-url", database_url, "bulk", "delete", "--app", app_id, "--device", "d1"]
    dry = CliRunner().invoke(cli, [*base, "--dry-run", "--json"])
    real = CliRunner().invoke(cli, [*base, "--json"])
    again = CliRunner().invoke(cli, [*base, "--dry-run", "--json"])
    assert (0, 0, 0) == (dry.exit_code, real.exit_code, again.exit_code), dry.stderr + real.stderr
    assert [(3, 0), (3, 3), (0, 0)] == [
        (json.loads(r.stdout)["matched"], json.loads(r.stdout)["changed"])
        for r in (dry, real, again)
    ]


def test_cli_bulk_update_without_a_filter_exits_2(database_url: str) -> None:
    """`bulk update --end` with no filter is refused as bad input (exit 2), touching nothing."""
    result = CliRunner().invoke(
        cli, ["--database-url", database_url, "bulk", "update", "--app", "app_x", "--end"]
    )
    assert 2 == result.exit_code
    assert "filter" in result.stderr
