"""The audit log: what is recorded, reading it with filters, and the hash chain's verification."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, delete, update
from typer.testing import CliRunner

from sessionhub import Engine, FakeClock, InvalidInput, Settings
from sessionhub.cli import cli
from sessionhub.core import audit
from sessionhub.core.audit import record_audit, subject_ref
from sessionhub.storage.schema_audit import audit_log
from tests.conftest import Keys, bearer


def _tamper(conn: Connection, seq: int, **values: Any) -> None:
    conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(**values))


def _remove(conn: Connection, seq: int) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq == seq))


async def _actions(engine: Engine, n: int) -> None:
    for i in range(n):
        await engine.audit.record(app_id=None, actor="cli", action="test.action", details={"i": i})


async def test_admin_actions_are_recorded_with_the_calling_key(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """Creating and updating an app and issuing, rotating and revoking a key each leave an entry naming the key."""
    admin = bearer(keys.admin)
    app = (await api.post("/v1/apps", json={"name": "shop"}, headers=admin)).json()
    await api.patch(f"/v1/apps/{app['id']}", json={"name": "shop2"}, headers=admin)
    key = (
        await api.post("/v1/keys", json={"kind": "secret", "app_id": app["id"]}, headers=admin)
    ).json()
    rotated = (await api.post(f"/v1/keys/{key['id']}/rotate", headers=admin)).json()
    await api.post(f"/v1/keys/{rotated['id']}/revoke", headers=admin)
    admin_key_id = (await engine.keys.authenticate(keys.admin)).key_id

    page = (await api.get("/v1/audit", params={"app_id": app["id"]}, headers=admin)).json()
    seen = [(e["action"], e["target"], e["actor"]) for e in reversed(page["items"])]
    actor = f"key:{admin_key_id}"
    assert [
        ("app.create", app["id"], actor),
        ("app.update", app["id"], actor),
        ("key.create", key["id"], actor),
        ("key.create", rotated["id"], actor),
        ("key.rotate", key["id"], actor),
        ("key.revoke", rotated["id"], actor),
    ] == seen
    assert keys.admin not in str(page)
    assert key["token"] not in str(page)


async def test_an_entry_rolls_back_with_its_failed_action(engine: Engine) -> None:
    """An entry recorded in a write that then fails is not kept: the log holds what happened."""

    def fails(conn: Connection) -> None:
        record_audit(conn, now=1, app_id=None, actor="cli", action="test.failed")
        raise InvalidInput("refused")

    await _actions(engine, 1)
    with pytest.raises(InvalidInput):
        await engine.db.write(fails)
    await _actions(engine, 1)
    entries = (await engine.audit.list()).items
    assert ["test.action", "test.action"] == [e.action for e in entries]
    assert (True, 2) == ((check := await engine.audit.verify()).ok, check.entries)


async def test_concurrent_writers_keep_one_unbroken_chain(engine: Engine) -> None:
    """Many appends at once (several writer tasks on PostgreSQL) give seq 1..n and a chain that verifies."""
    await asyncio.gather(
        *(engine.audit.record(app_id=None, actor="t", action="test.concurrent") for _ in range(60))
    )
    check = await engine.audit.verify()
    seqs = sorted(e.seq for e in (await engine.audit.list(limit=100)).items)
    assert (True, 60, list(range(1, 61))) == (check.ok, check.entries, seqs)


async def test_concurrent_engines_on_one_database_keep_one_chain(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    """Two engines (as two API processes) appending at once still build one unbroken chain."""
    other = await Engine(settings, clock=clock).start(migrate=False)
    try:
        await asyncio.gather(
            *(
                e.audit.record(app_id=None, actor="t", action="test.two")
                for _ in range(25)
                for e in (engine, other)
            )
        )
    finally:
        await other.close()
    assert (True, 50) == ((check := await engine.audit.verify()).ok, check.entries)


@pytest.mark.parametrize(
    "damage",
    [
        partial(_tamper, seq=3, details='{"i":99}'),
        partial(_tamper, seq=3, actor="someone-else"),
        partial(_tamper, seq=3, hash="0" * 64),
    ],
    ids=["details", "actor", "hash"],
)
async def test_verify_points_at_the_first_changed_entry(engine: Engine, damage: Any) -> None:
    """Changing any part of an entry breaks the chain exactly there."""
    await _actions(engine, 5)
    await engine.db.write(damage)
    check = await engine.audit.verify()
    assert (False, 3, 2) == (check.ok, check.broken_seq, check.entries)


async def test_verify_notices_a_removed_entry_and_a_cut_off_end(engine: Engine) -> None:
    """A deleted entry in the middle and a deleted last entry are both found."""
    await _actions(engine, 5)
    await engine.db.write(_remove, 5)
    assert (False, 5) == ((check := await engine.audit.verify()).ok, check.broken_seq)
    await engine.db.write(_remove, 2)
    assert (False, 2) == ((check := await engine.audit.verify()).ok, check.broken_seq)


async def test_filters_and_pages(engine: Engine, clock: FakeClock) -> None:
    """Entries filter by app, actor, action (exact or prefix) and time range, and page by cursor."""
    start = clock.now_ms()
    for i in range(5):
        await engine.audit.record(app_id="app_a", actor="cli", action=f"key.op{i % 2}")
        clock.advance(60)
    await engine.audit.record(app_id="app_b", actor="key:k1", action="app.create")
    assert 5 == len((await engine.audit.list(app_id="app_a")).items)
    assert ["app.create"] == [e.action for e in (await engine.audit.list(actor="key:k1")).items]
    assert 5 == len((await engine.audit.list(action="key.")).items)
    assert 2 == len((await engine.audit.list(action="key.op1")).items)
    window = await engine.audit.list(since=start + 60_000, until=start + 180_000)
    assert [3, 2] == [e.seq for e in window.items]
    first = await engine.audit.list(limit=4)
    second = await engine.audit.list(limit=4, cursor=first.next_cursor)
    assert ([6, 5, 4, 3], [2, 1], None) == (
        [e.seq for e in first.items],
        [e.seq for e in second.items],
        second.next_cursor,
    )


async def test_a_secret_key_reads_only_its_own_apps_entries(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """A secret key's audit list is its app's entries, whatever app_id it asks for; admin keys see all."""
    other = await engine.apps.create("other")
    await engine.audit.record(app_id=keys.app_id, actor="cli", action="test.mine")
    await engine.audit.record(app_id=other.id, actor="cli", action="test.theirs")
    mine = await api.get("/v1/audit", params={"app_id": other.id}, headers=bearer(keys.secret))
    everything = await api.get("/v1/audit", headers=bearer(keys.admin))
    assert ["test.mine"] == [
        e["action"] for e in mine.json()["items"] if e["action"].startswith("test.")
    ]
    assert {"test.mine", "test.theirs"} <= {e["action"] for e in everything.json()["items"]}
    refused = await api.get("/v1/audit", headers=bearer(keys.publishable))
    assert 403 == refused.status_code


async def test_the_api_reports_a_broken_chain(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """GET /v1/audit/verify is ok on an intact log and names the first broken entry after tampering."""
    await _actions(engine, 3)
    intact = (await api.get("/v1/audit/verify", headers=bearer(keys.admin))).json()
    await engine.db.write(partial(_tamper, seq=2, action="test.other"))
    broken = (await api.get("/v1/audit/verify", headers=bearer(keys.admin))).json()
    assert (True, False, 2) == (intact["ok"], broken["ok"], broken["broken_seq"])


async def test_subject_refs_are_salted_hashes_kept_across_restarts(
    engine: Engine, settings: Settings
) -> None:
    """A subject reference never contains the id, is stable over restarts, and changes with the salt."""
    ref = subject_ref("alice@example.com")
    await engine.close()
    again = await Engine(settings).start(migrate=False)
    try:
        assert ref == subject_ref("alice@example.com")
    finally:
        await again.close()
    salted = await Engine(settings.replace(audit_salt="s3cret")).start(migrate=False)
    try:
        other = subject_ref("alice@example.com")
    finally:
        await salted.close()
        await engine.start(migrate=False)
    assert ("subj_", False, True) == (ref[:5], "alice" in ref, ref != other)
    audit.configure_salt("s3cret")
    assert other == subject_ref("alice@example.com")


# -- the CLI ---------------------------------------------------------------------------------


def _run_cli(database_url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


def _engine_do(database_url: str, work: Any) -> Any:
    async def run() -> Any:
        engine = await Engine(Settings(database_url=database_url)).start(migrate=False)
        try:
            return await work(engine)
        finally:
            await engine.close()

    return asyncio.run(run())


def test_cli_verify_passes_then_fails_after_tampering(database_url: str) -> None:
    """`audit verify` exits 0 on an intact chain, and 1 naming the entry once a row is changed."""
    assert 0 == _run_cli(database_url, "apps", "create", "shop").exit_code
    assert 0 == _run_cli(database_url, "apps", "create", "blog").exit_code
    intact = _run_cli(database_url, "audit", "verify")
    _engine_do(database_url, lambda e: e.db.write(partial(_tamper, seq=1, details="{}")))
    broken = _run_cli(database_url, "audit", "verify")
    assert (0, "ok: 2 entries, chain intact\n") == (intact.exit_code, intact.stdout)
    assert 1 == broken.exit_code
    assert "broken at entry 1" in broken.stderr


def test_cli_lists_entries_with_filters(database_url: str) -> None:
    """`audit list --action app. --json` prints the matching entries, newest first."""
    _run_cli(database_url, "apps", "create", "shop")
    _run_cli(database_url, "apps", "create", "blog")
    result = _run_cli(database_url, "audit", "list", "--action", "app.", "--json")
    assert 0 == result.exit_code, result.stderr
    items = json.loads(result.stdout)["items"]
    assert [("app.create", "cli", {"name": "blog"}), ("app.create", "cli", {"name": "shop"})] == [
        (e["action"], e["actor"], e["details"]) for e in items
    ]


async def test_a_nul_in_a_filter_is_a_422_not_a_driver_error(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A filter value PostgreSQL text cannot hold is refused naming the field, on every backend."""
    response = await api.get("/v1/audit", params={"actor": "a\x00b"}, headers=bearer(keys.admin))
    assert (422, "actor") == (response.status_code, response.json()["error"]["details"]["field"])
