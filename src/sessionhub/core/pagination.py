"""Opaque list cursors: a position in a keyset order, encoded so callers can't depend on it."""

from __future__ import annotations

import base64
import binascii

from sessionhub.errors import InvalidInput

MAX_LIMIT = 500


def encode_cursor(*position: int) -> str:
    raw = ":".join(str(part) for part in position).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, parts: int = 2) -> tuple[int, ...] | None:
    """Decode a cursor made by ``encode_cursor``; a damaged one is a 422."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        position = tuple(int(part) for part in raw.split(":"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        position = ()
    if len(position) != parts:
        raise InvalidInput("The cursor is not one this API gave out.", details={"field": "cursor"})
    return position


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", details={"field": "limit"})
    return limit
