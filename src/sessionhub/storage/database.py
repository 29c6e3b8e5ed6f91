"""The database: one place that opens connections, runs reads and commits writes in batches.

Every query is a plain function of a SQLAlchemy ``Connection``. ``Database.read`` runs
one in a read transaction; ``Database.write`` queues one for the writer, which runs
whatever has queued in a single transaction (group commit) and answers each caller only
after that transaction committed.

A batch runs optimistically, without a savepoint per write. When a write fails, the
batch is rolled back and run again: the writes before the failed one as they were, the
failed one not at all (its error stands), each later one in its own savepoint. So a
failed write leaves no trace and does not spoil the others, and the common case (nothing
fails) pays nothing for that. A write may therefore run more than once before its batch
commits: it must change nothing but the database (and may rely on reading what the
writes before it in the batch wrote).

SQLite: the event loop owns the write connection and commits each batch itself, right
after the writes of one loop turn have queued: a statement takes microseconds, while a
hand-over to a writer thread and back (and the two threads taking turns on the GIL)
cost more than the writes. Point reads run on the loop's own read connection, which in
WAL mode never waits for the writer. Nothing on the loop waits on a lock: the write
connection does not wait for the write lock, so when another process holds it the
batch waits for it in a thread instead, and WAL checkpoints (the one step that syncs
the file) run in a thread too. PostgreSQL: asyncpg through SQLAlchemy's asyncio layer,
with a few writer tasks each committing its own batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from sessionhub import metrics
from sessionhub.errors import Conflict, InvalidInput, SessionhubError, StorageError

T = TypeVar("T")
Query = Callable[..., T]

SQLITE_LOCK_WAIT_S = 30.0  # how long a batch waits for another process's write lock
SQLITE_CHECKPOINT_EVERY_S = 0.25  # WAL checkpoints, in a thread, at most this often
SQLITE_WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes of WAL file kept once the log restarts
SQLITE_MMAP_BYTES = 256 * 1024 * 1024  # of the database file, mapped into each connection


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(slots=True)
class _Write:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    done: bool = field(default=False)


class _Rerun(Exception):
    """A write of the batch failed: roll the transaction back and run the batch again."""

    def __init__(self, failed: int):
        super().__init__(failed)
        self.failed = failed


def _run_one(conn: Connection, op: _Write) -> bool:
    """Run one write; False (with ``op.error`` set) when it failed."""
    op.result, op.error = None, None
    try:
        op.result = op.fn(conn, *op.args)
    except SessionhubError as exc:
        op.error = exc
    except IntegrityError as exc:
        op.error = Conflict(
            "The write conflicts with existing data.", details={"db": str(exc.orig)}
        )
    except OperationalError:
        raise  # the connection or the lock is gone: the whole batch fails
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise  # the connection is gone: the whole batch fails
        op.error = _refused_value(exc) or exc
    except Exception as exc:  # a bug in one write must not poison the others
        op.error = exc
    else:
        return True
    return False


def _run_batch(conn: Connection, batch: list[_Write], failed: int | None = None) -> None:
    """Run a batch's writes in order inside the open transaction.

    With ``failed`` None every write runs plainly and the first failure raises
    ``_Rerun``. Otherwise the batch is a rerun after write ``failed`` failed: the writes
    before it run plainly (they succeeded on the same state), it is skipped (its error
    stands) and each later one runs in a savepoint of its own.
    """
    for index, op in enumerate(batch):
        if failed is None or index < failed:
            if not _run_one(conn, op):
                raise _Rerun(index)
        elif index > failed:
            savepoint = conn.begin_nested()
            if _run_one(conn, op):
                savepoint.commit()
            else:
                savepoint.rollback()


def _settle_on(loop: asyncio.AbstractEventLoop, batch: list[_Write]) -> None:
    """Settle a batch from ``loop``: its own callers at once, other loops' through theirs."""
    others: dict[asyncio.AbstractEventLoop, list[_Write]] = {}
    for op in batch:
        if op.future.get_loop() is not loop:
            others.setdefault(op.future.get_loop(), []).append(op)
        elif not op.future.done():
            if op.error is not None:
                op.future.set_exception(op.error)
            else:
                op.future.set_result(op.result)
    for other, ops in others.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed
            other.call_soon_threadsafe(_settle, ops)


def _is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection holds SQLite's write lock."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    return code in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED} or (
        isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)
    )


async def _close_quietly(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


def _driver_execute(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the driver's own cursor, outside SQLAlchemy's transaction handling."""
    dbapi: DBAPIConnection | None = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    cursor.execute(sql)
    cursor.close()


def _settle(batch: list[_Write]) -> None:
    """Hand each write's outcome to its waiting caller (runs on the caller's loop)."""
    for op in batch:
        if op.future.done():
            continue
        if op.error is not None:
            op.future.set_exception(op.error)
        else:
            op.future.set_result(op.result)


def _refused_value(exc: DBAPIError) -> InvalidInput | None:
    """A value the database cannot hold (SQLSTATE class 22: a NUL in text, a number out of
    range) is the caller's bad input, not an outage."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if isinstance(code, str) and code.startswith("22"):
        return InvalidInput(
            "The request holds a value the database cannot store.", details={"db": str(exc.orig)}
        )
    return None


def _storage_error(exc: BaseException) -> StorageError:
    return StorageError(
        "The database is unavailable; nothing was written.", details={"db": str(exc)}
    )


class Database:
    """Reads and group-committed writes over SQLite or PostgreSQL."""

    def __init__(
        self, url: str, *, batch_max: int = 1000, pg_pool_size: int = 10, pg_writers: int = 4
    ):
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise StorageError(f"Unsupported database URL {url!r}: use sqlite:/// or postgresql://")
        self.batch_max = batch_max
        self._pg_pool_size = pg_pool_size
        self._pg_writers = pg_writers
        self._started = False
        # SQLite
        self._sync_engine: SAEngine | None = None
        self._writer: Connection | None = None
        self._writer_lock = threading.Lock()  # one batch at a time on the write connection
        self._pending: list[_Write] = []
        self._flush_scheduled = False
        self._waiting: asyncio.Task[None] | None = None  # a batch waiting for the lock
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpointed_at = 0.0
        self._reader: Connection | None = None
        self._local = threading.local()
        # PostgreSQL
        self._async_engine: AsyncEngine | None = None
        self._pg_autocommit: AsyncEngine | None = None  # for single-statement reads
        self._pg_read_slots: asyncio.Semaphore | None = None
        self._pg_queue: asyncio.Queue[_Write] | None = None
        self._pg_tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open connections and start the writer."""
        if self._started:
            return
        if self.dialect == "sqlite":
            self._sync_engine = sqlite_engine(self.url)
            self._writer = self._sync_engine.connect()
            self._writer.info["writer"] = True
            # Fail at once on another process's write lock (the batch then waits in a
            # thread), and leave checkpoints to a thread: the loop never blocks on either.
            _driver_execute(self._writer, "PRAGMA busy_timeout=0")
            _driver_execute(self._writer, "PRAGMA wal_autocheckpoint=0")
            self._checkpointed_at = time.monotonic()
        else:
            # The writers keep a connection each, on top of ``pg_pool_size`` for reads; reads
            # beyond that many wait for one (a new connection per request costs far more).
            self._pg_read_slots = asyncio.Semaphore(self._pg_pool_size)
            self._async_engine = create_async_engine(
                self.url,
                pool_size=self._pg_pool_size + self._pg_writers,
                max_overflow=self._pg_pool_size,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
                # No liveness ping per checkout (with asyncpg that is three round trips:
                # BEGIN, the ping, ROLLBACK). A connection the server dropped fails once,
                # which invalidates the pool; reads then retry on a fresh connection, and
                # writes too unless the connection died while committing.
            )
            self._pg_autocommit = self._async_engine.execution_options(isolation_level="AUTOCOMMIT")
            self._pg_queue = asyncio.Queue()
            self._pg_tasks = [
                asyncio.create_task(self._pg_writer()) for _ in range(self._pg_writers)
            ]
        self._started = True

    async def close(self) -> None:
        """Let queued writes finish, then close every connection."""
        if not self._started:
            return
        self._started = False
        if self.dialect == "sqlite":
            while self._pending or self._waiting is not None or self._checkpoint is not None:
                if self._waiting is not None:
                    await asyncio.wait([self._waiting])
                elif self._checkpoint is not None:
                    await asyncio.wait([self._checkpoint])
                else:
                    self._sqlite_flush()
            if self._writer is not None:
                with self._writer_lock:
                    self._writer.close()
                self._writer = None
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            if self._sync_engine is not None:
                self._sync_engine.dispose()
        else:
            assert self._pg_queue is not None
            await self._pg_queue.join()
            for task in self._pg_tasks:
                task.cancel()
            for task in self._pg_tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._async_engine is not None:
                await self._async_engine.dispose()

    # -- reads -------------------------------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: Any, heavy: bool = False) -> T:
        """Run ``fn(conn, *args)`` in a read transaction and return its result.

        ``heavy`` reads (scans, reports) run off the event loop on SQLite; point reads run
        on it, because a thread hop costs more than the read.
        """
        try:
            if self.dialect == "sqlite":
                if heavy:
                    return await asyncio.to_thread(self._sqlite_read_in_thread, fn, args)
                return self._sqlite_read(self._loop_reader(), fn, args)
            assert self._async_engine is not None
            assert self._pg_autocommit is not None
            assert self._pg_read_slots is not None
            # A single statement needs no BEGIN and COMMIT round trips around it.
            single = getattr(fn, "single_statement", False)
            engine = self._pg_autocommit if single else self._async_engine
            async with self._pg_read_slots:
                try:
                    async with engine.connect() as conn:
                        return cast(T, await conn.run_sync(fn, *args))
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                async with engine.connect() as conn:  # the server dropped it: once more
                    return cast(T, await conn.run_sync(fn, *args))
        except (OperationalError, DBAPIError, OSError) as exc:
            refused = _refused_value(exc) if isinstance(exc, DBAPIError) else None
            raise (refused or _storage_error(exc)) from exc

    def _loop_reader(self) -> Connection:
        if self._reader is None:
            assert self._sync_engine is not None
            self._reader = self._sync_engine.connect()
        return self._reader

    def _sqlite_read_in_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return self._sqlite_read(self._thread_connection(), fn, args)

    def _thread_connection(self) -> Connection:
        """This worker thread's own connection (heavy reads, checkpoints)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self._sync_engine is not None
            conn = self._local.conn = self._sync_engine.connect()
        return conn

    @staticmethod
    def _sqlite_read(conn: Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if getattr(fn, "single_statement", False):
            try:
                return fn(conn, *args)
            finally:
                if conn.in_transaction():  # it went through SQLAlchemy after all
                    conn.rollback()
        with conn.begin():
            return fn(conn, *args)

    # -- writes ------------------------------------------------------------------------

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Queue ``fn(conn, *args)`` for the writer; return its result once committed."""
        if not self._started:
            raise StorageError("The database is not started.")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        op = _Write(fn, args, future)
        if self.dialect == "sqlite":
            self._pending.append(op)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                future.get_loop().call_soon(self._sqlite_flush)
        else:
            assert self._pg_queue is not None
            self._pg_queue.put_nowait(op)
        return await future

    def _sqlite_flush(self) -> None:
        """Commit what has queued (on the loop), or hand it to a thread if the lock is taken."""
        self._flush_scheduled = False
        if self._waiting is not None or not self._pending:
            return  # the batch waiting for the lock flushes the rest when it is done
        batch = self._pending[: self.batch_max]
        del self._pending[: self.batch_max]
        metrics.WRITE_QUEUE_DEPTH.set(len(self._pending))
        loop = batch[0].future.get_loop()
        if self._pending:
            self._flush_scheduled = True
            loop.call_soon(self._sqlite_flush)
        if self._writer_lock.acquire(blocking=False):
            try:
                committed = self._sqlite_commit(batch, wait=False)
            finally:
                self._writer_lock.release()
            if committed:
                self._sqlite_done(batch, loop)
                return
        self._waiting = loop.create_task(self._sqlite_commit_waiting(batch))

    async def _sqlite_commit_waiting(self, batch: list[_Write]) -> None:
        """Commit a batch in a thread that waits for the write lock (another process has it)."""
        try:
            await asyncio.to_thread(self._sqlite_commit_blocking, batch)
        finally:
            self._waiting = None
            loop = asyncio.get_running_loop()
            self._sqlite_done(batch, loop)
            if self._pending and not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._sqlite_flush)

    def _sqlite_commit_blocking(self, batch: list[_Write]) -> None:
        with self._writer_lock:
            self._sqlite_commit(batch, wait=True)

    def _sqlite_commit(self, batch: list[_Write], *, wait: bool) -> bool:
        """Run and commit a batch; False when the write lock was taken and ``wait`` is off."""
        conn = self._writer
        deadline = time.monotonic() + SQLITE_LOCK_WAIT_S
        pause = 0.001
        failed: int | None = None
        while True:
            try:
                if conn is None:
                    raise StorageError("The database is closed.")
                with conn.begin():
                    _run_batch(conn, batch, failed)
            except _Rerun as rerun:
                failed = rerun.failed
                continue
            except Exception as exc:
                if _is_busy(exc) and time.monotonic() < deadline:
                    # Another process writes; nothing of this batch was committed.
                    if not wait:
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
                    failed = None
                    continue
                error = _storage_error(exc)  # the transaction failed as a whole: nobody is acked
                for op in batch:
                    op.error = error
            return True

    def _sqlite_done(self, batch: list[_Write], loop: asyncio.AbstractEventLoop) -> None:
        """Answer the callers of a committed batch and checkpoint the WAL now and then."""
        metrics.COMMIT_BATCH_SIZE.observe(len(batch))
        _settle_on(loop, batch)
        now = time.monotonic()
        if self._checkpoint is None and now - self._checkpointed_at >= SQLITE_CHECKPOINT_EVERY_S:
            self._checkpointed_at = now
            self._checkpoint = loop.run_in_executor(None, self._sqlite_checkpoint)
            self._checkpoint.add_done_callback(self._checkpoint_done)

    def _sqlite_checkpoint(self) -> None:
        # PASSIVE never waits for readers. The first pass runs beside the writes and copies
        # back nearly all of the log, however long that takes. Alone it never caught up with
        # the writes, so the log was never started afresh and grew without end under steady
        # traffic: the second pass copies the few frames written meanwhile under the write
        # lock (batches wait in a thread for a ms or two, not for the whole copy). Caught
        # up, the next write starts the log from its beginning again.
        conn = self._thread_connection()
        with contextlib.suppress(sqlite3.Error):
            _driver_execute(conn, "PRAGMA wal_checkpoint(PASSIVE)")
            with self._writer_lock:
                _driver_execute(conn, "PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpoint_done(self, _: asyncio.Future[None]) -> None:
        self._checkpoint = None

    async def _pg_writer(self) -> None:
        assert self._pg_queue is not None
        # Each writer keeps one connection: a checkout per batch costs time for nothing.
        conn: AsyncConnection | None = None
        try:
            while True:
                first = await self._pg_queue.get()
                # Share what is waiting among the writers: each batch is a sequence of round
                # trips, so several shorter batches in parallel commit sooner than one long one.
                share = -(-(self._pg_queue.qsize() + 1) // self._pg_writers)
                limit = min(self.batch_max, share)
                batch = [first]
                while len(batch) < limit and not self._pg_queue.empty():
                    batch.append(self._pg_queue.get_nowait())
                metrics.WRITE_QUEUE_DEPTH.set(self._pg_queue.qsize())
                try:
                    conn = await self._pg_commit(conn, batch)
                finally:
                    metrics.COMMIT_BATCH_SIZE.observe(len(batch))
                    _settle(batch)
                    for _ in batch:
                        self._pg_queue.task_done()
        finally:
            if conn is not None:
                await _close_quietly(conn)

    async def _pg_commit(
        self, conn: AsyncConnection | None, batch: list[_Write]
    ) -> AsyncConnection | None:
        """Commit a batch; return the connection to use next (None: take a fresh one)."""
        assert self._async_engine is not None
        failed: int | None = None
        retries = 0
        while True:
            committing = False
            try:
                if conn is None:
                    conn = await self._async_engine.connect()
                async with conn.begin():
                    await conn.run_sync(_run_batch, batch, failed)
                    committing = True
                return conn
            except _Rerun as rerun:
                failed = rerun.failed
                continue
            except DBAPIError as exc:
                retries += 1
                code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
                if code in {"40P01", "40001"} and retries < 3:
                    # Deadlock or serialization failure between two writers: run it again.
                    failed = None
                    continue
                if exc.connection_invalidated and not committing and retries < 3:
                    # The server dropped the connection before the batch was sent to
                    # commit, so none of it happened: run it again on a fresh one.
                    if conn is not None:
                        await _close_quietly(conn)
                    conn, failed = None, None
                    continue
                error: SessionhubError = _storage_error(exc)
            except OSError as exc:
                error = _storage_error(exc)
            for op in batch:
                op.error = error
            if conn is not None:  # it may be broken: never reuse it
                await _close_quietly(conn)
            return None

    # -- health ------------------------------------------------------------------------

    async def ping(self) -> None:
        """Raise StorageError unless the database answers a trivial query."""
        await self.read(_ping)


def _ping(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


def normalize_url(url: str) -> str:
    """Pick the driver Sessionhub uses for each backend (pysqlite, asyncpg)."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+pysqlite://" + url.split("://", 1)[1]
    return url


def _bind_none_and_bool_directly() -> None:
    """Spare the sqlite3 module its adapter search for None and bool (4 % of ingestion).

    The module binds a value that is not exactly an int, float or str only after looking
    it up in its adapter registry and then asking for ``__adapt__`` and ``__conform__``:
    two failed attribute lookups, each building an AttributeError and its message. An
    event row holds a None or a bool or two. Registered adapters end the search at the
    registry and bind the same values as before (NULL, and 0 or 1). The registry is the
    whole process's: an adapter the host program registered for either type is kept.
    """
    # ``{}.get`` answers None for None: the identity, without a Python-level call.
    adapters: dict[type[Any], Callable[[Any], Any]] = {type(None): {}.get, bool: int}
    for kind, adapter in adapters.items():
        if (kind, sqlite3.PrepareProtocol) not in sqlite3.adapters:
            sqlite3.register_adapter(kind, adapter)


def sqlite_engine(url: str) -> SAEngine:
    """A synchronous engine for an SQLite file in WAL mode with explicit transactions."""
    _bind_none_and_bool_directly()
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args={"check_same_thread": False, "timeout": 30},
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN and SAVEPOINT are ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash; only power loss may undo a commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA temp_store=MEMORY")
        # Read the file through memory mapping: a page not in this connection's cache is a
        # memory access instead of a read() call (a tenth of a validate's time).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        # When the log starts afresh, its file is cut back to this size.
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # The writer takes the write lock up front, so its batch never fails half-way on it.
        # (On the driver's cursor: this runs before every read and every batch.)
        _driver_execute(conn, "BEGIN IMMEDIATE" if conn.info.get("writer") else "BEGIN")

    return engine
