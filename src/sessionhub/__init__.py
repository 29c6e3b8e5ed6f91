"""Sessionhub: a self-hosted session engine.

``Engine`` is the whole product in-process; ``sessionhub.api.create_app`` serves it over
HTTP; ``Client`` and ``AsyncClient`` call a server from Python. Every error is a ``SessionhubError`` with an HTTP status and a code.
"""

from sessionhub._version import __version__
from sessionhub.client import AsyncClient, Client
from sessionhub.clock import FakeClock, SystemClock
from sessionhub.config import Settings
from sessionhub.core.engine import Engine
from sessionhub.errors import (
    BadRequest,
    Conflict,
    ConsentRequired,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SessionEnded,
    SessionhubError,
    SessionLimitReached,
    StorageError,
    Unauthorized,
)

__all__ = [
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "ConsentRequired",
    "Engine",
    "FakeClock",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "SessionEnded",
    "SessionLimitReached",
    "SessionhubError",
    "Settings",
    "StorageError",
    "SystemClock",
    "Unauthorized",
    "__version__",
]
