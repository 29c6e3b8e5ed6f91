"""The live-update bus: events fanned out by topic to every open stream.

In one process the bus is a set of queues per topic. With ``redis_url`` set, every
publish goes through Redis pub/sub and each process delivers what it receives to its
own listeners, so a change made through one API replica reaches streams held open by
another. A slow listener loses the oldest events rather than holding up the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

CHANNEL_PREFIX = "sessionhub:live:"
QUEUE_SIZE = 1000

Event = dict[str, Any]


class LiveBus:
    """Publish events on topics; subscribe to topics for a queue of what arrives."""

    def __init__(self, redis_url: str = "", *, prefix: str = CHANNEL_PREFIX):
        self._redis_url = redis_url
        self._prefix = prefix
        self._listeners: dict[str, set[asyncio.Queue[Event]]] = {}
        self._redis: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock | None = None

    @property
    def distributed(self) -> bool:
        """Whether events go through Redis (shared by every process on it)."""
        return bool(self._redis_url)

    def listening(self, topic: str) -> bool:
        """Whether a listener of this process waits on ``topic`` (always true with Redis:
        another process may have one)."""
        return self.distributed or bool(self._listeners.get(topic))

    def listening_under(self, prefix: str) -> bool:
        """Whether any listener of this process waits on a topic starting with ``prefix``
        (always true with Redis)."""
        return self.distributed or any(topic.startswith(prefix) for topic in self._listeners)

    async def publish(self, topic: str, event: Event) -> None:
        """Hand ``event`` to every listener of ``topic``, in every process on the bus."""
        if not self.distributed:
            self._deliver(topic, event)
            return
        client = self._client()
        await client.publish(self._prefix + topic, orjson.dumps(event))

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue that receives the events of ``topics`` until the block ends."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)
        for topic in topics:
            self._listeners.setdefault(topic, set()).add(queue)
        try:
            if self.distributed:
                await self._start_reader()
            yield queue
        finally:
            for topic in topics:
                listeners = self._listeners.get(topic)
                if listeners is not None:
                    listeners.discard(queue)
                    if not listeners:
                        del self._listeners[topic]

    async def close(self) -> None:
        """Stop reading from Redis and close its connections."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    # -- internals ---------------------------------------------------------------------------

    def _deliver(self, topic: str, event: Event) -> None:
        for queue in list(self._listeners.get(topic, ())):
            if queue.full():  # a listener that can't keep up loses its oldest event
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    def _client(self) -> Any:
        if self._redis is None:
            import redis.asyncio as aioredis  # only needed with redis_url

            self._redis = aioredis.Redis.from_url(self._redis_url)
        return self._redis

    async def _start_reader(self) -> None:
        """Subscribe to every topic once per process; return when Redis has confirmed it,
        so nothing published after ``subscribe`` returns is missed."""
        if self._reader is not None and not self._reader.done():
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._reader is not None and not self._reader.done():
                return
            pubsub = self._client().pubsub()
            await pubsub.psubscribe(self._prefix + "*")
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is None:
                    raise ConnectionError("Redis did not confirm the live-update subscription")
                if message["type"] == "psubscribe":
                    break
            self._reader = asyncio.create_task(self._read(pubsub))

    async def _read(self, pubsub: Any) -> None:
        try:
            async for message in pubsub.listen():
                if message["type"] != "pmessage":
                    continue
                channel = message["channel"]
                channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                with contextlib.suppress(orjson.JSONDecodeError):
                    self._deliver(channel[len(self._prefix) :], orjson.loads(message["data"]))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
