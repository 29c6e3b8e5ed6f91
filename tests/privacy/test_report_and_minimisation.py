"""The privacy report, and minimisation: no raw IP stored, no ids or keys in logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from sessionhub import Engine, FakeClock, Settings
from sessionhub.api import create_app
from sessionhub.cli import cli
from tests.conftest import Keys, bearer
from tests.privacy.support import every_row, pk, send_events, sk

CLIENT_IP = "203.0.113.77"


async def test_the_report_gives_consent_rates_requests_and_retention(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """Consent rates per purpose, do-not-sell count, exports served and events overdue for retention."""
    for device, granted in (("d1", True), ("d2", True), ("d3", False)):
        await api.post(
            "/v1/consent",
            json={"device_id": device, "purposes": {"analytics": granted}, "do_not_sell": True},
            headers=pk(keys),
        )
    session = await api.post("/v1/sessions", json={"user_id": "u1"}, headers=sk(keys))
    await send_events(api, keys, session.json()["id"], 2)
    await api.get("/v1/subjects/export", params={"user_id": "u1"}, headers=sk(keys))
    clock.advance(31 * 86400)
    report = (await api.get("/v1/privacy/report", headers=sk(keys))).json()
    assert {"granted": 2, "refused": 1, "rate": 0.6667} == report["consent"]["analytics"]
    assert (3, {"users": 1, "devices": 0}) == (report["do_not_sell"], report["subjects"])
    assert (1, 0) == (report["requests"]["export"]["count"], report["requests"]["erase"]["count"])
    assert (30, 2) == (
        report["retention"]["events"]["days"],
        report["retention"]["events"]["overdue"],
    )


@pytest.fixture
async def behind_proxy(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """The API with the test client's address trusted as a proxy, so X-Forwarded-For counts."""
    engine = await Engine(settings.replace(trusted_proxies="127.0.0.1"), clock=clock).start(
        migrate=False
    )
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.headers["X-Forwarded-For"] = CLIENT_IP
            yield client
    finally:
        await engine.close()


async def test_the_clients_ip_is_never_stored(
    behind_proxy: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Sessions and events started from a client address keep no trace of it in any table."""
    client = behind_proxy
    engine: Engine = client._transport.app.state.engine  # type: ignore[attr-defined]
    app = await engine.apps.create("ip")
    key = bearer((await engine.keys.issue("secret", app.id)).token)
    created = await client.post("/v1/sessions", json={"device_id": "d1"}, headers=key)
    await client.post(
        "/v1/events",
        json={"events": [{"device_id": "d2", "type": "page_view", "url": "https://x.test/a"}]},
        headers=key,
    )
    rows = await every_row(engine)
    assert 201 == created.status_code
    assert [] == [name for name, found in rows.items() if CLIENT_IP in str(found)]


def test_serve_runs_without_an_access_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` turns uvicorn's access log off: its request lines hold session ids in paths."""
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "serve", "--no-worker"])
    assert (0, False) == (result.exit_code, seen.get("access_log"))


async def test_logs_hold_no_session_ids_keys_or_tokens(
    api: httpx.AsyncClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything logged while sessions are created, used, shared and erased names none of their ids, keys or tokens."""
    caplog.set_level(logging.DEBUG)
    created = await api.post("/v1/sessions", json={"user_id": "u1"}, headers=sk(keys))
    session_id = created.json()["id"]
    await send_events(api, keys, session_id)
    await api.post(f"/v1/sessions/{session_id}/validate", headers=sk(keys))
    share = await api.post(f"/v1/sessions/{session_id}/shares", headers=sk(keys))
    await api.get("/v1/sessions/unknown-id", headers=sk(keys))
    await api.post("/v1/subjects/erase", json={"user_id": "u1"}, headers=sk(keys))
    secrets = [session_id, keys.secret, keys.publishable, str(share.json().get("token", "-"))]
    # The test's own HTTP client (httpx) logs its requests: that is the caller's log, not ours.
    ours = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert [] == [value for value in secrets if value in ours]
