"""Batching event senders for server-side tracking: flush on size, on time and at exit.

Each event gets its id and its time when it is tracked, so a batch sent again after a
failure is stored once (the server drops events it has seen), and a buffered event keeps
the time it happened. A batch that fails stays buffered and
goes out with the next flush; past ``max_buffer`` the oldest events are dropped and
counted in ``dropped``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sessionhub.errors import SessionhubError

if TYPE_CHECKING:
    from sessionhub.client import AsyncClient, Client
    from sessionhub.models.events import IngestResult


def _event(type_: str, fields: dict[str, Any]) -> dict[str, Any]:
    event = {key: value for key, value in fields.items() if value is not None}
    event["type"] = type_
    event.setdefault("id", str(uuid.uuid4()))
    event.setdefault("timestamp", datetime.now(UTC).isoformat(timespec="milliseconds"))
    return event


class _Buffer:
    def __init__(self, max_batch: int, max_buffer: int):
        if not 1 <= max_batch <= 500:
            raise ValueError("max_batch must be between 1 and 500 (the API's batch limit)")
        self.max_batch = max_batch
        self.events: deque[dict[str, Any]] = deque()
        self.max_buffer = max_buffer
        self.dropped = 0
        self.last_error: SessionhubError | None = None

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        while len(self.events) > self.max_buffer:
            self.events.popleft()
            self.dropped += 1

    def take(self) -> list[dict[str, Any]]:
        return [self.events[i] for i in range(min(self.max_batch, len(self.events)))]

    def sent(self, count: int) -> None:
        for _ in range(count):
            self.events.popleft()


class EventSender:
    """Buffer events and send them in batches from a background thread."""

    def __init__(
        self,
        client: Client,
        *,
        max_batch: int = 100,
        max_wait_s: float = 5.0,
        max_buffer: int = 10_000,
    ):
        self._client = client
        self._buffer = _Buffer(max_batch, max_buffer)
        self._max_wait_s = max_wait_s
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sessionhub-events", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @property
    def dropped(self) -> int:
        """Events dropped because the buffer was full while the server did not answer."""
        return self._buffer.dropped

    @property
    def pending(self) -> int:
        """Events tracked but not yet acknowledged by the server."""
        return len(self._buffer.events)

    def track(self, type: str, **fields: Any) -> str:
        """Queue an event (fields as in EventIn: session_id, user_id, path, properties…); return its id."""
        event = _event(type, fields)
        with self._wake:
            if self._closed:
                raise RuntimeError("the event sender is closed")
            self._buffer.add(event)
            if len(self._buffer.events) >= self._buffer.max_batch:
                self._wake.notify()
        return str(event["id"])

    def flush(self) -> IngestResult | None:
        """Send what is buffered now, batch by batch; None when nothing was sent."""
        result = None
        with self._lock:
            while self._buffer.events:
                batch = self._buffer.take()
                try:
                    result = self._client.send_events({"events": batch})
                except SessionhubError as exc:
                    self._buffer.last_error = exc
                    if exc.status < 500 and exc.status != 429:
                        self._buffer.sent(len(batch))  # refused as a whole: resending won't help
                    break
                self._buffer.sent(len(batch))
        return result

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._closed and len(self._buffer.events) < self._buffer.max_batch:
                    self._wake.wait(self._max_wait_s)
                if self._closed:
                    return
            self.flush()

    def close(self) -> None:
        """Send what is left and stop the thread."""
        with self._wake:
            if self._closed:
                return
            self._closed = True
            self._wake.notify()
        self._thread.join()
        self.flush()
        atexit.unregister(self.close)


class AsyncEventSender:
    """Buffer events and send them in batches from an asyncio task; ``await aclose()`` at exit."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        max_batch: int = 100,
        max_wait_s: float = 5.0,
        max_buffer: int = 10_000,
    ):
        self._client = client
        self._buffer = _Buffer(max_batch, max_buffer)
        self._max_wait_s = max_wait_s
        self._full = asyncio.Event()
        self._sending = asyncio.Lock()
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def dropped(self) -> int:
        """Events dropped because the buffer was full while the server did not answer."""
        return self._buffer.dropped

    @property
    def pending(self) -> int:
        """Events tracked but not yet acknowledged by the server."""
        return len(self._buffer.events)

    def track(self, type: str, **fields: Any) -> str:
        """Queue an event (fields as in EventIn); return its id."""
        if self._closed:
            raise RuntimeError("the event sender is closed")
        event = _event(type, fields)
        self._buffer.add(event)
        if len(self._buffer.events) >= self._buffer.max_batch:
            self._full.set()
        return str(event["id"])

    async def flush(self) -> IngestResult | None:
        """Send what is buffered now, batch by batch; None when nothing was sent."""
        result = None
        async with self._sending:
            while self._buffer.events:
                batch = self._buffer.take()
                try:
                    result = await self._client.send_events({"events": batch})
                except SessionhubError as exc:
                    self._buffer.last_error = exc
                    if exc.status < 500 and exc.status != 429:
                        self._buffer.sent(len(batch))
                    break
                self._buffer.sent(len(batch))
        return result

    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._max_wait_s)
            self._full.clear()
            await self.flush()

    async def aclose(self) -> None:
        """Send what is left and stop the task."""
        if self._closed:
            return
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.flush()
