"""Encryption at rest: AES-256-GCM tokens that name their key, and the process's key ring.

A sealed value is text: ``shenc1:<key id>:<base64url(nonce | ciphertext | tag)>``. The key
id is the first 8 hex digits of the key's SHA-256, so rotation tells keys apart without
storing them, and a value names the key it needs. The column or purpose (e.g.
``messages.content``) is authenticated with it, so a value moved to another column does
not open. Opening needs only the key ring: every key any engine of this process loaded
(ids derive from keys, so engines never disagree on one), which is why readers anywhere
can open values without an engine at hand. With no key loaded nothing is ever sealed, and
readers skip opening after one check of ``KEYS``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sessionhub.errors import StorageError

PREFIX = "shenc1:"
PLAIN = "plain"  # the pseudo key id of values stored unencrypted
KEYS: dict[str, AESGCM] = {}  # key id -> cipher, every key this process loaded


def new_key() -> str:
    """A fresh key for SESSIONHUB_ENCRYPTION_KEY: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:8]


def parse_key(text: str, setting: str) -> tuple[str, AESGCM]:
    """(key id, cipher) of a configured key; a malformed one is an error naming ``setting``."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise StorageError(
            f"{setting} is not a valid key: it must be 32 bytes in base64url"
            " (make one with `sessionhub encryption keygen`).",
            details={"setting": setting},
        )
    return key_id(raw), AESGCM(raw)


class Sealer:
    """Seals values under one key (the current one)."""

    __slots__ = ("_aead", "_head", "kid")

    def __init__(self, kid: str, aead: AESGCM):
        self.kid = kid
        self._aead = aead
        self._head = f"{PREFIX}{kid}:"

    def seal_text(self, text: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, text.encode(), purpose.encode())
        return self._head + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def seal_json(self, value: Any, purpose: str) -> str:
        return self.seal_text(orjson.dumps(value).decode(), purpose)

    def owns(self, value: Any) -> bool:
        """Whether ``value`` is already sealed under this key."""
        return isinstance(value, str) and value.startswith(self._head)


def load(keys: Iterable[tuple[str, AESGCM]]) -> None:
    """Add keys to the process's key ring (Engine.start)."""
    for kid, aead in keys:
        KEYS[kid] = aead


def sealed_kid(value: Any) -> str:
    """The key id a stored value is under (``PLAIN`` when it is not sealed)."""
    if isinstance(value, str) and value.startswith(PREFIX) and value[15:16] == ":":
        return value[7:15]
    return PLAIN


def open_text(value: str, purpose: str) -> str:
    """The plaintext of a stored text value (as it is when not sealed)."""
    if not value.startswith(PREFIX) or value[15:16] != ":":
        return value
    kid = value[7:15]
    aead = KEYS.get(kid)
    if aead is None:
        raise StorageError(
            f"A stored value is encrypted with key {kid}, which is not configured: add it to"
            " SESSIONHUB_ENCRYPTION_KEY or SESSIONHUB_ENCRYPTION_OLD_KEYS.",
            details={"key_id": kid, "purpose": purpose},
        )
    try:
        blob = base64.urlsafe_b64decode(value[16:] + "=" * (-len(value[16:]) % 4))
        return aead.decrypt(blob[:12], blob[12:], purpose.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise StorageError(
            f"A stored {purpose} value under key {kid} does not decrypt: it was changed or"
            " moved. Nothing is returned in its place.",
            details={"key_id": kid, "purpose": purpose},
        ) from exc


def open_json(value: Any, purpose: str) -> Any:
    """The stored JSON value, opened when sealed (a sealed JSON value is a string)."""
    if type(value) is str and KEYS:
        return orjson.loads(open_text(value, purpose))
    return value


def open_rows(rows: Iterable[Mapping[str, Any]], column: str, purpose: str) -> list[dict[str, Any]]:
    """The rows as dicts with ``column`` opened (text columns)."""
    opened = []
    for row in rows:
        item = dict(row)
        if item.get(column) is not None:
            item[column] = open_text(item[column], purpose)
        opened.append(item)
    return opened


def open_json_rows(
    rows: Iterable[Mapping[str, Any]], column: str, purpose: str
) -> list[dict[str, Any]]:
    """The rows as dicts with the JSON ``column`` opened."""
    opened = []
    for row in rows:
        item = dict(row)
        item[column] = open_json(item[column], purpose)
        opened.append(item)
    return opened
