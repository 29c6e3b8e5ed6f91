"""Encryption at rest: what is sealed, that it reads back, wrong keys, rotation and the sweep."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Text, cast, select, update
from typer.testing import CliRunner

from sessionhub import Engine, FakeClock, Settings, StorageError
from sessionhub.cli import cli
from sessionhub.core import transfer
from sessionhub.crypto import new_key, sealed_kid
from sessionhub.models import MessageIn, SessionCreate, StatePut
from sessionhub.storage.schema import events, messages, state_entries
from sessionhub.worker import Worker

KEY_A = new_key()
KEY_B = new_key()
SECRET = "my card is 4111 1111 1111 1111"


async def _start(settings: Settings, clock: FakeClock, **changes: Any) -> Engine:
    return await Engine(settings.replace(**changes), clock=clock).start(migrate=False)


def _stored(conn: Connection) -> dict[str, list[str]]:
    """The raw stored text of every encrypted column."""
    return {
        "messages": list(conn.execute(select(messages.c.content)).scalars()),
        "events": list(conn.execute(select(cast(events.c.properties, Text))).scalars()),
        "state": list(conn.execute(select(cast(state_entries.c.value, Text))).scalars()),
    }


async def _write_everything(engine: Engine, tag: str) -> str:
    """A session with a message, an event and a state value, each holding SECRET."""
    app = await engine.apps.create(f"shop-{tag}")
    sid = f"s-{tag}"
    await engine.sessions.create(app.id, SessionCreate(id=sid))
    await engine.memory.add(app.id, sid, MessageIn(role="user", content=f"{SECRET} {tag}"))
    await engine.events.ingest(
        app.id, [{"type": "action", "properties": {"note": f"{SECRET} {tag}"}}], session_id=sid
    )
    await engine.state.put(app.id, "session", "card", StatePut(value={"n": SECRET}), session_id=sid)
    return app.id


async def _read_everything(engine: Engine, app_id: str, tag: str) -> tuple[str, Any, Any]:
    sid = f"s-{tag}"
    history = await engine.memory.history(app_id, sid)
    timeline = await engine.events.timeline(app_id, sid)
    state = await engine.state.get(app_id, "session", "card", session_id=sid)
    return history[0].content, timeline.items[0].properties, state.value


@pytest.fixture
async def encrypted(settings: Settings, clock: FakeClock) -> AsyncIterator[Engine]:
    """An engine with encryption at rest on (key A)."""
    engine = await _start(settings, clock, encryption_key=KEY_A)
    try:
        yield engine
    finally:
        await engine.close()


async def test_values_are_stored_sealed_and_read_back_whole(encrypted: Engine) -> None:
    """Message content, event properties and state values hold no plaintext in the database, and read back as written."""
    app_id = await _write_everything(encrypted, "a")
    stored = await encrypted.db.read(_stored)
    read = await _read_everything(encrypted, app_id, "a")
    assert [] == [text for texts in stored.values() for text in texts if "4111" in text]
    assert {encrypted.encryption.current} == {
        sealed_kid(t.strip('"')) for texts in stored.values() for t in texts
    }
    assert (f"{SECRET} a", {"note": f"{SECRET} a"}, {"n": SECRET}) == read


async def test_a_changed_ciphertext_is_an_error_not_garbage(encrypted: Engine) -> None:
    """A stored value altered in the database fails to open with StorageError; nothing is returned in its place."""
    app_id = await _write_everything(encrypted, "t")

    def flip(conn: Connection) -> None:
        text = conn.execute(select(messages.c.content)).scalar_one()
        tampered = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
        conn.execute(update(messages).values(content=tampered))

    await encrypted.db.write(flip)
    with pytest.raises(StorageError):
        await encrypted.memory.history(app_id, "s-t")


async def test_a_wrong_or_missing_key_is_a_startup_error(
    settings: Settings, clock: FakeClock
) -> None:
    """After data was written under key A, starting with key B or with no key fails naming the setting."""
    engine = await _start(settings, clock, encryption_key=KEY_A)
    await _write_everything(engine, "w")
    await engine.close()
    with pytest.raises(StorageError, match="SESSIONHUB_ENCRYPTION_KEY") as wrong:
        await _start(settings, clock, encryption_key=KEY_B)
    with pytest.raises(StorageError, match="SESSIONHUB_ENCRYPTION_KEY") as missing:
        await _start(settings, clock)
    assert "wrong or missing" in str(wrong.value.message)
    assert "wrong or missing" in str(missing.value.message)


@pytest.mark.parametrize("setting", ["encryption_key", "encryption_old_keys"])
async def test_a_malformed_key_is_a_startup_error(
    settings: Settings, clock: FakeClock, setting: str
) -> None:
    """A key that is not 32 bytes of base64url is refused at start, naming its setting."""
    with pytest.raises(StorageError, match=f"SESSIONHUB_{setting.upper()}"):
        await _start(settings, clock, **{setting: "not-a-key"})


async def test_rotation_reads_old_values_and_the_sweep_moves_them_to_the_new_key(
    settings: Settings, clock: FakeClock
) -> None:
    """With key B current and A old, A's values still read; one worker run rewrites them under B and retires A."""
    engine = await _start(settings, clock, encryption_key=KEY_A)
    app_id = await _write_everything(engine, "r")
    old_kid = engine.encryption.current
    await engine.close()

    engine = await _start(settings, clock, encryption_key=KEY_B, encryption_old_keys=KEY_A)
    try:
        before = await _read_everything(engine, app_id, "r")
        # Values stored before the first key count as "plain" until a sweep has run.
        assert sorted([old_kid, "plain"]) == (await engine.encryption.status()).pending
        results = await Worker(engine).run_once()
        stored = await engine.db.read(_stored)
        after = await _read_everything(engine, app_id, "r")
        status = await engine.encryption.status()
        retired = (await engine.audit.list(action="encryption.key_retired")).items
    finally:
        await engine.close()
    assert before == after
    assert 3 == results["reencrypt"]
    assert {status.current} == {sealed_kid(t.strip('"')) for ts in stored.values() for t in ts}
    assert ([], sorted([old_kid, "plain"])) == (status.pending, sorted(e.target for e in retired))
    # A retired key is no longer needed: B alone starts.
    alone = await _start(settings, clock, encryption_key=KEY_B)
    await alone.close()


async def test_turning_encryption_on_seals_what_was_stored_before(
    settings: Settings, clock: FakeClock
) -> None:
    """Data written with encryption off is sealed by the sweep once a key is set, and reads the same."""
    plain = await _start(settings, clock)
    app_id = await _write_everything(plain, "p")
    await plain.close()
    engine = await _start(settings, clock, encryption_key=KEY_A)
    try:
        pending = (await engine.encryption.status()).pending
        swept = await engine.encryption.sweep()
        stored = await engine.db.read(_stored)
        read = await _read_everything(engine, app_id, "p")
    finally:
        await engine.close()
    assert (["plain"], 3) == (pending, swept)
    assert [] == [text for texts in stored.values() for text in texts if "4111" in text]
    assert (f"{SECRET} p", {"note": f"{SECRET} p"}, {"n": SECRET}) == read


async def test_turning_encryption_off_decrypts_with_the_old_key(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    """With no current key and the old one in ENCRYPTION_OLD_KEYS the sweep stores everything as plaintext again."""
    engine = await _start(settings, clock, encryption_key=KEY_A)
    app_id = await _write_everything(engine, "o")
    await engine.close()
    engine = await _start(settings, clock, encryption_old_keys=KEY_A)
    try:
        await engine.encryption.sweep()
        stored = await engine.db.read(_stored)
    finally:
        await engine.close()
    plain = await _start(settings, clock)
    try:
        read = await _read_everything(plain, app_id, "o")
    finally:
        await plain.close()
    assert 3 == len([text for texts in stored.values() for text in texts if "4111" in text])
    assert (f"{SECRET} o", {"note": f"{SECRET} o"}, {"n": SECRET}) == read


async def test_with_encryption_off_nothing_is_sealed(engine: Engine) -> None:
    """Without a key values are stored as they are and no key is recorded."""
    await _write_everything(engine, "n")
    stored = await engine.db.read(_stored)
    assert 3 == len([text for texts in stored.values() for text in texts if "4111" in text])
    assert [] == (await engine.audit.list(action="encryption.")).items


async def test_a_forced_sweep_catches_values_an_old_process_wrote_after_retirement(
    settings: Settings, clock: FakeClock
) -> None:
    """A process still on the old key writing after the sweep retired it is caught by `encryption rotate` (a forced sweep)."""
    old_process = await _start(settings, clock, encryption_key=KEY_A)
    try:
        app_id = await _write_everything(old_process, "x")
        new_process = await _start(settings, clock, encryption_key=KEY_B, encryption_old_keys=KEY_A)
        try:
            await new_process.encryption.sweep()
            await old_process.memory.add(app_id, "s-x", MessageIn(role="user", content=SECRET))
            late = {sealed_kid(t) for t in (await new_process.db.read(_stored))["messages"]}
            await new_process.encryption.sweep(force=True)
            kids = {
                sealed_kid(t.strip('"'))
                for ts in (await new_process.db.read(_stored)).values()
                for t in ts
            }
            history = await new_process.memory.history(app_id, "s-x")
        finally:
            await new_process.close()
    finally:
        await old_process.close()
    assert 2 == len(late)
    assert {new_process.encryption.current} == kids
    assert [f"{SECRET} x", SECRET] == [m.content for m in history]


def test_cli_keygen_status_and_rotate(database_url: str) -> None:
    """`encryption keygen` prints a usable key; `status` and `rotate` report the keys and rewrite old values."""
    runner = CliRunner()
    key = runner.invoke(cli, ["encryption", "keygen"]).stdout.strip()

    async def write() -> None:
        engine = await Engine(Settings(database_url=database_url, encryption_key=KEY_A)).start(
            migrate=False
        )
        try:
            await _write_everything(engine, "c")
        finally:
            await engine.close()

    asyncio.run(write())
    env = {"SESSIONHUB_ENCRYPTION_KEY": key, "SESSIONHUB_ENCRYPTION_OLD_KEYS": KEY_A}
    base = ["--database-url", database_url, "encryption"]
    before = runner.invoke(cli, [*base, "status", "--json"], env=env)
    rotated = runner.invoke(cli, [*base, "rotate"], env=env)
    after = runner.invoke(cli, [*base, "status", "--json"], env=env)
    assert (0, 0, 0) == (before.exit_code, rotated.exit_code, after.exit_code), before.stderr
    assert 2 == len(json.loads(before.stdout)["pending"])
    assert "rewrote 3 values" in rotated.stdout
    assert [] == json.loads(after.stdout)["pending"]


async def test_imported_events_are_sealed_and_export_in_plaintext(encrypted: Engine) -> None:
    """Events imported from JSON lines are stored sealed, and an export gives their properties back."""
    app = await encrypted.apps.create("imp")
    now = "2026-01-01T00:00:00Z"
    lines = [
        json.dumps(
            {"record": "session", "id": "imp-1", "started_at": now, "last_activity_at": now}
        ),
        json.dumps(
            {
                "record": "event",
                "session_id": "imp-1",
                "id": "evt-imp-1",
                "type": "action",
                "timestamp": now,
                "properties": {"note": SECRET},
            }
        ),
    ]
    result = await transfer.import_lines(encrypted, app.id, lines)
    stored = (await encrypted.db.read(_stored))["events"]
    exported = [r async for r in transfer.export_records(encrypted, app.id, "events", 0, 2**62)]
    assert (1, []) == (result.events, result.rejected)
    assert [] == [text for text in stored if "4111" in text]
    assert [{"note": SECRET}] == [r["properties"] for r in exported]


async def test_profiles_learn_from_encrypted_events(encrypted: Engine) -> None:
    """With encryption on, affinities come from the plain properties, stored and recomputed."""
    app = await encrypted.apps.create("profiles")
    await encrypted.events.ingest(
        app.id,
        [
            {"type": "action", "user_id": "u1", "properties": {"category": "tea"}},
            {"type": "action", "user_id": "u1", "properties": {"category": "tea"}},
        ],
    )
    stored = await encrypted.personalization.profiles.vector(app.id, "u1")
    recomputed = await encrypted.personalization.profiles.vector(app.id, "u1", half_life_days=3)
    assert (["category:tea"], ["category:tea"]) == (
        [a.dimension for a in stored.affinities],
        [a.dimension for a in recomputed.affinities],
    )
