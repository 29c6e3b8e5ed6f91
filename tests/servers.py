"""A real `sessionhub serve` process for tests that need real HTTP over TCP."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

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

    def keys(self) -> dict[str, str]:
        """The keys a first run printed, by kind: publishable, secret, admin."""
        return dict(KEY_LINE.findall(self.stdout()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Any) -> Iterator[tuple[str, asyncio.AbstractEventLoop]]:
    """Run an ASGI app with uvicorn on a free port in a thread of its own.

    Yields the URL and the server's event loop, so a test can run coroutines on the
    engine behind it (``asyncio.run_coroutine_threadsafe``).
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", loop
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        loop.close()


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
