"""The web dashboard at /dashboard: server-rendered pages over the Engine (see docs/dashboard.md)."""

from __future__ import annotations

from sessionhub.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
