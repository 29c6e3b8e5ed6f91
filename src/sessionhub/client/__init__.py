"""The Python client: every API operation, typed, over HTTP (``Client``, ``AsyncClient``).

    with sessionhub.Client("http://127.0.0.1:8000", key="sk_…") as client:
        session = client.create_session({"user_id": "u1"})
        client.heartbeat_session(session.id)

Methods take and return the server's own models (``sessionhub.models``); failures raise
the server's own error classes (``sessionhub.NotFound``, ``sessionhub.Conflict``, …).
Idempotent calls are retried with backoff; see docs/client.md.
"""

from __future__ import annotations

from typing import Any

from sessionhub.client._endpoints import AsyncEndpoints, Endpoints
from sessionhub.client._sender import AsyncEventSender, EventSender
from sessionhub.client._transport import Retry


class Client(Endpoints):
    """A blocking client of a Sessionhub server."""

    def event_sender(self, **options: Any) -> EventSender:
        """A batching event sender over this client (see ``EventSender``)."""
        return EventSender(self, **options)


class AsyncClient(AsyncEndpoints):
    """An asyncio client of a Sessionhub server."""

    def event_sender(self, **options: Any) -> AsyncEventSender:
        """A batching event sender over this client (see ``AsyncEventSender``)."""
        return AsyncEventSender(self, **options)


__all__ = ["AsyncClient", "AsyncEventSender", "Client", "EventSender", "Retry"]
