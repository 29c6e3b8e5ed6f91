"""The HTTP API: a thin translation of requests into Engine calls."""

from sessionhub.api.app import create_app

__all__ = ["create_app"]
