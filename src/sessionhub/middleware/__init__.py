"""Middleware for Python web apps: a Sessionhub session per visitor, page views and errors.

``SessionhubMiddleware`` wraps ASGI apps (Starlette, FastAPI), embedded (an ``Engine``)
or remote (an ``AsyncClient``); ``SessionhubWSGIMiddleware`` wraps WSGI apps (Flask,
Django) through a ``Client``. See docs/middleware.md.
"""

from __future__ import annotations

from sessionhub.middleware.asgi import AsyncVisitor, SessionhubMiddleware
from sessionhub.middleware.wsgi import SessionhubWSGIMiddleware, Visitor

__all__ = ["AsyncVisitor", "SessionhubMiddleware", "SessionhubWSGIMiddleware", "Visitor"]
