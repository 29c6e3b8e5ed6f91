"""Benchmark the session lifecycle in-process and over HTTP; print the figures as one JSON document.

In-process: ``sessionhub.Engine`` on the backend, ``--concurrency`` tasks creating,
validating and heartbeating sessions. HTTP: the real server (``sessionhub serve``) as a
child process on 127.0.0.1, driven by ``--connections`` keep-alive connections from a
lean asyncio HTTP/1.1 client (uvloop + httptools, the parser uvicorn uses), so the load
generator costs far less CPU than the server it measures. Every phase is bounded by a
request count and a time limit, whichever comes first.

    .venv/bin/python bench/lifecycle.py                    # both backends
    .venv/bin/python bench/lifecycle.py --backend sqlite   # one

PostgreSQL runs in its own database (``--pg-url``, created when missing), never ``test``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httptools
import orjson
import uvloop

from sessionhub import Engine, Settings
from sessionhub.models import AppSettings, SessionCreate
from sessionhub.models.apps import RateLimitSettings
from sessionhub.storage.migrate import upgrade
from sessionhub.storage.schema import metadata

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/sh_bench"
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
ENTRY_PAGE = "https://shop.example/landing?utm_source=newsletter&utm_campaign=spring"


@dataclass
class Options:
    concurrency: int
    inproc_ops: int
    connections: int
    http_create_requests: int
    http_validate_requests: int
    seconds: float
    port: int
    pg_url: str
    parts: tuple[str, ...] = ("inproc", "http")


@dataclass
class Keys:
    app_id: str
    publishable: str
    secret: str


# -- databases ----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(backend: str, options: Options) -> Iterator[str]:
    """A migrated, empty database of ``backend``; yields its URL."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="sessionhub-bench-"))
        try:
            url = f"sqlite:///{folder / 'sessionhub.db'}"
            upgrade(url)
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        asyncio.run(_reset_postgres(options.pg_url))
        yield options.pg_url


async def _reset_postgres(url: str) -> None:
    """Create the bench database when missing, migrate it and empty its tables."""
    import asyncpg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    if name == "test":
        raise SystemExit("refusing to benchmark in database 'test' (CI uses it)")
    admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade, url)
    conn = await asyncpg.connect(url)
    try:
        names = ", ".join(table.name for table in metadata.sorted_tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


async def analyze(url: str) -> None:
    """Bring PostgreSQL's statistics up to date after a bulk of creates.

    Autovacuum would, within a minute; a phase of a few seconds right after a TRUNCATE
    would otherwise run on plans made for an empty table (a scan of every running
    session per validate instead of a unique-index lookup).
    """
    if not url.startswith("postgres"):
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def make_keys(engine: Engine) -> Keys:
    # One client address sends every publishable-key request here: lift the per-IP limit
    # (a browser-visitor limit) so the bench measures the server, not the limit.
    limits = RateLimitSettings(per_ip="100000000/minute")
    app = await engine.apps.create("bench", AppSettings(rate_limits=limits))
    pk = await engine.keys.issue("publishable", app.id, "bench")
    sk = await engine.keys.issue("secret", app.id, "bench")
    return Keys(app.id, pk.token, sk.token)


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(database_url=url, data_dir=data_dir, run_worker=False)


# -- in-process ---------------------------------------------------------------------------


@dataclass
class Phase:
    ops: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    def cpu_us_per_op(self, seconds: float) -> float:
        return round(seconds / self.ops * 1e6, 1) if self.ops else 0.0

    @property
    def per_s(self) -> float:
        return round(self.ops / self.seconds, 1) if self.seconds else 0.0


async def drive(op: Callable[[int], Any], total: int, seconds: float, concurrency: int) -> Phase:
    """Run ``op(i)`` for i = 0, 1, … from ``concurrency`` tasks until ``total`` or ``seconds``.

    An exception stops the bench (a figure that counts failures as work is no figure); an
    op answering False (a session reported not valid) counts in ``errors``.
    """
    phase = Phase()
    counter = itertools.count()
    # Each phase starts from a collected heap: a full collection of what the set-up or an
    # earlier phase left is not charged to this one.
    gc.collect()
    started = time.perf_counter()
    deadline = started + seconds
    clock = time.perf_counter

    async def task() -> None:
        while True:
            i = next(counter)
            if i >= total or clock() > deadline:
                return
            ok = await op(i)
            phase.ops += 1
            if ok is False:
                phase.errors += 1

    await asyncio.gather(*(task() for _ in range(concurrency)))
    phase.seconds = time.perf_counter() - started
    return phase


async def bench_inprocess(url: str, data_dir: Path, options: Options) -> dict[str, Any]:
    engine = await Engine(settings_for(url, data_dir)).start(migrate=False)
    try:
        keys = await make_keys(engine)
        app_id = keys.app_id
        sessions = engine.sessions
        ids: list[str] = []

        async def create(i: int) -> bool:
            body = SessionCreate(
                user_id=f"user-{i}",
                device_id=f"dev-{i}",
                entry_page=ENTRY_PAGE,
                user_agent=USER_AGENT,
            )
            session, _ = await sessions.create(app_id, body)
            ids.append(session.id)
            return True

        async def validate(i: int) -> bool:
            return (await sessions.validate(app_id, ids[i % len(ids)])).valid

        async def heartbeat(i: int) -> bool:
            await sessions.heartbeat(app_id, ids[i % len(ids)])
            return True

        n, c, s = options.inproc_ops, options.concurrency, options.seconds
        await drive(create, min(500, n), s, c)  # warm-up: caches, statements, the writer
        created = await drive(create, n, s, c)
        await analyze(url)
        validated = await drive(validate, n, s, c)
        beats = await drive(heartbeat, n, s, c)
    finally:
        await engine.close()
    return {
        "inproc_create_per_s": created.per_s,
        "inproc_validate_per_s": validated.per_s,
        "inproc_heartbeat_per_s": beats.per_s,
        "inproc_concurrency": f"{c} concurrent asyncio tasks in one process",
        "inproc_ops": {"create": created.ops, "validate": validated.ops, "heartbeat": beats.ops},
        "inproc_errors": created.errors + validated.errors + beats.errors,
    }


# -- HTTP ---------------------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends a request and waits for its response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"server closed the connection: {exc}"))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def http_request(method: str, path: str, port: int, token: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nUser-Agent: {USER_AGENT}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def drive_http(
    conns: list[Connection],
    make: Callable[[int], bytes],
    total: int,
    seconds: float,
    on_body: Callable[[bytes], None] | None = None,
    server_pid: int | None = None,
) -> tuple[Phase, Counter[int]]:
    """Send requests ``make(i)`` over every connection, one in flight per connection."""
    statuses: Counter[int] = Counter()
    # One task per connection keeps each connection strictly request/response.
    phase = Phase()
    counter = itertools.count()
    clock = time.perf_counter
    server_cpu = process_cpu_s(server_pid) if server_pid else 0.0
    client_cpu = time.process_time()
    started = clock()
    deadline = started + seconds

    async def task(conn: Connection) -> None:
        while True:
            i = next(counter)
            if i >= total or clock() > deadline:
                return
            raw = make(i)
            t0 = clock()
            status, body = await conn.request(raw)
            phase.latencies.append(clock() - t0)
            phase.ops += 1
            statuses[status] += 1
            if status >= 300:
                phase.errors += 1
            elif on_body is not None:
                on_body(body)

    # The load generator's own garbage-collector pauses would count as server latency (the
    # client times each request): no collections while it measures.
    gc.collect()
    gc.disable()
    try:
        await asyncio.gather(*(task(conn) for conn in conns))
    finally:
        gc.enable()
    phase.seconds = clock() - started
    phase.client_cpu_s = time.process_time() - client_cpu
    if server_pid:
        phase.server_cpu_s = process_cpu_s(server_pid) - server_cpu
    return phase, statuses


def percentile_ms(latencies: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``latencies``, in milliseconds."""
    ordered = sorted(latencies)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000, 2)


def process_cpu_s(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(url: str, data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``sessionhub serve`` on 127.0.0.1:``port`` until the block ends; yields the process."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is in use; pass --port")
    log = data_dir / "server.log"
    env = {
        **os.environ,
        "SESSIONHUB_DATABASE_URL": url,
        "SESSIONHUB_DATA_DIR": str(data_dir),
        "SESSIONHUB_LOG_LEVEL": "warning",
    }
    command = [str(Path(sys.executable).parent / "sessionhub"), "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(proc, port, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited early:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer on port {port}:\n{log.read_text()}")


async def bench_http(url: str, data_dir: Path, options: Options) -> dict[str, Any]:
    engine = await Engine(settings_for(url, data_dir)).start(migrate=False)
    try:
        keys = await make_keys(engine)
    finally:
        await engine.close()
    port = options.port
    with server(url, data_dir, port) as proc:
        loop = asyncio.get_running_loop()
        conns: list[Connection] = []
        for _ in range(options.connections):
            _, conn = await loop.create_connection(Connection, "127.0.0.1", port)
            conns.append(conn)
        try:
            ids: list[str] = []

            def create(i: int) -> bytes:
                body = orjson.dumps(
                    {"user_id": f"user-{i}", "device_id": f"dev-{i}", "entry_page": ENTRY_PAGE}
                )
                return http_request("POST", "/v1/sessions", port, keys.publishable, body)

            def remember(body: bytes) -> None:
                ids.append(orjson.loads(body)["id"])

            s = options.seconds
            await drive_http(conns, create, 500, s, remember)  # warm-up
            created, create_statuses = await drive_http(
                conns, create, options.http_create_requests, s, remember, proc.pid
            )
            await analyze(url)
            validations = [
                http_request("POST", f"/v1/sessions/{sid}/validate", port, keys.secret)
                for sid in ids
            ]

            def validate(i: int) -> bytes:
                return validations[i % len(validations)]

            await drive_http(conns, validate, 1000, s)  # warm-up
            validated, validate_statuses = await drive_http(
                conns, validate, options.http_validate_requests, s, server_pid=proc.pid
            )
        finally:
            for conn in conns:
                if conn.transport is not None:
                    conn.transport.close()
    return {
        "http_create_rps": created.per_s,
        "http_validate_rps": validated.per_s,
        "http_validate_p50_ms": percentile_ms(validated.latencies, 50),
        "http_validate_p99_ms": percentile_ms(validated.latencies, 99),
        "http_create_p50_ms": percentile_ms(created.latencies, 50),
        "http_create_p99_ms": percentile_ms(created.latencies, 99),
        "http_connections": options.connections,
        # CPU per request (all threads), which other load on the machine hardly changes:
        # the server's, and the load generator's (it must stay well below the server's).
        "http_server_cpu_us_per_create": created.cpu_us_per_op(created.server_cpu_s),
        "http_server_cpu_us_per_validate": validated.cpu_us_per_op(validated.server_cpu_s),
        "http_client_cpu_us_per_request": validated.cpu_us_per_op(validated.client_cpu_s),
        "http_requests": {"create": created.ops, "validate": validated.ops},
        "http_statuses": {
            "create": {str(k): v for k, v in sorted(create_statuses.items())},
            "validate": {str(k): v for k, v in sorted(validate_statuses.items())},
        },
    }


# -- main ---------------------------------------------------------------------------------


def run_backend(backend: str, options: Options) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="sessionhub-bench-data-") as tmp:
        data_dir = Path(tmp)
        if "inproc" in options.parts:
            with fresh_database(backend, options) as url:
                figures.update(uvloop.run(bench_inprocess(url, data_dir, options)))
        if "http" in options.parts:
            with fresh_database(backend, options) as url:
                figures.update(uvloop.run(bench_http(url, data_dir, options)))
    figures["event_loop"] = "uvloop (bench process and server)"
    figures["python"] = platform.python_version()
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--concurrency", type=int, default=64, help="in-process tasks")
    parser.add_argument("--ops", type=int, default=50_000, help="in-process ops per phase (max)")
    parser.add_argument("--connections", type=int, default=32, help="HTTP keep-alive connections")
    parser.add_argument("--create-requests", type=int, default=20_000, help="HTTP creates (max)")
    parser.add_argument("--validate-requests", type=int, default=40_000, help="HTTP validates")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per phase")
    parser.add_argument("--port", type=int, default=8765, help="port for the server under test")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("SESSIONHUB_BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL database for the bench (created when missing; never 'test')",
    )
    parser.add_argument(
        "--only", choices=["inproc", "http"], help="run only the in-process or the HTTP part"
    )
    args = parser.parse_args(argv)
    options = Options(
        concurrency=args.concurrency,
        inproc_ops=args.ops,
        connections=args.connections,
        http_create_requests=args.create_requests,
        http_validate_requests=args.validate_requests,
        seconds=args.seconds,
        port=args.port,
        pg_url=args.pg_url,
        parts=(args.only,) if args.only else ("inproc", "http"),
    )
    backends = args.backend or ["sqlite", "postgres"]
    result = {backend: run_backend(backend, options) for backend in backends}
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
