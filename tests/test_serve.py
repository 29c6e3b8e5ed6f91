"""`sessionhub serve` as a real process: first-run keys, real HTTP, clean stop, quiet restart."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer
from tests.servers import KEY_LINE, STOP_TIMEOUT_S, serve


@pytest.mark.slow
def test_serve_prints_keys_once_and_serves_real_http(tmp_path: Path) -> None:
    """First run prints three working keys; the API answers over TCP; SIGTERM exits 0; a restart prints none."""
    data_dir = tmp_path / "data"
    with serve(data_dir, "first") as server:
        keys = dict(KEY_LINE.findall(server.stdout()))
        assert ["admin", "publishable", "secret"] == sorted(keys)
        assert ("pk_", "sk_", "ak_") == (
            keys["publishable"][:3],
            keys["secret"][:3],
            keys["admin"][:3],
        )
        created = httpx.post(
            f"{server.url}/v1/sessions",
            json={"user_id": "u1"},
            headers=bearer(keys["publishable"]),
            timeout=10,
        )
        assert 201 == created.status_code
        session_id = created.json()["id"]
        # No trusted proxy is set: a local client can't claim another address (8.8.8.8 is US).
        claimed = httpx.post(
            f"{server.url}/v1/sessions",
            json={},
            headers={**bearer(keys["publishable"]), "X-Forwarded-For": "8.8.8.8"},
            timeout=10,
        )
        assert (201, None) == (claimed.status_code, claimed.json()["location"]["country"])
        checked = httpx.post(
            f"{server.url}/v1/sessions/{session_id}/validate",
            headers=bearer(keys["secret"]),
            timeout=10,
        )
        apps = httpx.get(f"{server.url}/v1/apps", headers=bearer(keys["admin"]), timeout=10)
        assert (True, ["default"]) == (
            checked.json()["valid"],
            [app["name"] for app in apps.json()],
        )
        server.process.send_signal(signal.SIGTERM)
        assert 0 == server.process.wait(timeout=STOP_TIMEOUT_S)
    assert (data_dir / "sessionhub.db").exists()

    with serve(data_dir, "second") as again:
        kept = httpx.get(
            f"{again.url}/v1/sessions/{session_id}", headers=bearer(keys["secret"]), timeout=10
        )
        assert (200, "active") == (kept.status_code, kept.json()["status"])
        assert ([], False) == (KEY_LINE.findall(again.stdout()), "First run" in again.stdout())
        assert True is again.stdout().startswith("Sessionhub ")
