"""`sessionhub serve` as a real process: first-run keys, real HTTP, clean stop, quiet restart."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
KEY_LINE = re.compile(r"^\s+(publishable|secret|admin) key\s+(\S+)$", re.M)


@dataclass
class Server:
    url: str
    output: Path
    process: subprocess.Popen[bytes]

    def stdout(self) -> str:
        return self.output.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(data_dir: Path, run: str) -> Iterator[Server]:
    """Start `sessionhub serve` on a free port and wait until /readyz answers; stop it after."""
    port = free_port()
    output = data_dir.parent / f"{run}.out"
    errors = data_dir.parent / f"{run}.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    command = [
        str(Path(sys.executable).with_name("sessionhub")),
        "--data-dir",
        str(data_dir),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with output.open("wb") as out, errors.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
    server = Server(f"http://127.0.0.1:{port}", output, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited with {process.returncode}: {errors.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"serve not ready after {START_TIMEOUT_S} s: {errors.read_text()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
