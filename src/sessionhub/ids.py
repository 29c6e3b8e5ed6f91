"""Identifiers and secrets: prefixed, random, at least 128 bits."""

from __future__ import annotations

import hashlib
import secrets


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by 128 random bits in URL-safe base64 (22 chars)."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def new_secret(prefix: str) -> str:
    """Return an API key token: ``prefix_`` followed by 256 random bits."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(token: str) -> str:
    """Hash a high-entropy token for storage (SHA-256 suffices: tokens are not passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()
