"""Encryption at rest of message content, state values and event properties.

``SESSIONHUB_ENCRYPTION_KEY`` turns it on: from then on those values are sealed (AES-GCM,
see sessionhub/crypto.py) where the engine writes them, and opened where storage reads
them. Earlier keys go in ``SESSIONHUB_ENCRYPTION_OLD_KEYS``: values under them still open,
and the worker's ``reencrypt`` job rewrites them (and values stored before encryption was
on) under the current key, then retires the old keys.

Which keys hold data is kept in the audit log (``encryption.key_added`` and
``encryption.key_retired`` entries). ``start`` refuses to run when the database holds data
under a key that is not configured (a wrong or missing key), naming the settings, so a
wrong key is a startup error, never garbage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection

from sessionhub import crypto
from sessionhub.core.audit import record_audit
from sessionhub.errors import StorageError
from sessionhub.storage import encryption as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

SWEEP_PAGE = 1000  # rows read per sweep transaction


@dataclass
class EncryptionStatus:
    """Which key seals new values, which keys still hold data, and what the sweep has left."""

    current: str  # a key id, or "plain" when encryption is off
    live: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def live_keys(history: list[tuple[str, str]]) -> set[str]:
    """The key ids that may still hold data, from the key history (plain until retired)."""
    live = {crypto.PLAIN}
    for action, kid in history:
        if action == "encryption.key_added":
            live.add(kid)
        else:
            live.discard(kid)
    return live


class Encryption:
    """The engine's encryption at rest: its sealer, the startup check, the sweep."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.sealer: crypto.Sealer | None = None
        self.current = crypto.PLAIN
        self._configured: set[str] = set()
        self.pending: set[str] = set()

    def _parse(self) -> None:
        settings = self._engine.settings
        keys: list[tuple[str, Any]] = []
        if settings.encryption_key:
            keys.append(crypto.parse_key(settings.encryption_key, "SESSIONHUB_ENCRYPTION_KEY"))
        for text in settings.encryption_old_keys.split(","):
            if text.strip():
                keys.append(crypto.parse_key(text, "SESSIONHUB_ENCRYPTION_OLD_KEYS"))
        crypto.load(keys)
        self._configured = {kid for kid, _ in keys}
        if settings.encryption_key:
            kid, aead = keys[0]
            self.sealer = crypto.Sealer(kid, aead)
            self.current = kid

    async def start(self) -> None:
        """Load the keys and check them against what the database holds; raise naming the setting."""
        self._parse()
        if not self._configured:
            # Nothing can be sealed; only check nothing sealed is there (one indexed read).
            history = await self._engine.db.read(q.key_history)
            if not history:
                return
        else:
            history = await self._engine.db.read(q.key_history)
        live = live_keys(history)
        unknown = sorted(live - self._configured - {crypto.PLAIN})
        if unknown:
            setting = (
                "SESSIONHUB_ENCRYPTION_KEY"
                if not self._engine.settings.encryption_key
                else "SESSIONHUB_ENCRYPTION_KEY or SESSIONHUB_ENCRYPTION_OLD_KEYS"
            )
            raise StorageError(
                f"The database holds data encrypted with key(s) {', '.join(unknown)}, which"
                f" {setting} does not provide: a wrong or missing encryption key. Set the"
                " key(s) the data was written with (old ones in SESSIONHUB_ENCRYPTION_OLD_KEYS).",
                details={"setting": setting, "key_ids": unknown},
            )
        if self.current not in live:
            await self._engine.db.write(_add_key, self.current, self._engine.clock.now_ms())
            live.add(self.current)
        self.pending = live - {self.current}

    async def status(self) -> EncryptionStatus:
        live = live_keys(await self._engine.db.read(q.key_history))
        return EncryptionStatus(
            current=self.current, live=sorted(live), pending=sorted(live - {self.current})
        )

    async def sweep(self, *, budget_s: float | None = None, force: bool = False) -> int:
        """Rewrite every value not under the current key; retire the old keys when all are.

        Returns the rows rewritten. A pass that skipped a row (changed while it ran) or ran
        out of ``budget_s`` retires nothing; the next pass continues. The worker sweeps only
        while old keys hold data; ``force`` (``sessionhub encryption rotate``) checks every
        row anyway, e.g. after a process that kept an old key was finally restarted.
        """
        if force:
            live = live_keys(await self._engine.db.read(q.key_history))
            self.pending = live - {self.current}
        elif not self.pending:
            return 0
        started = time.monotonic()
        rewritten = 0
        complete = True
        for target in q.TARGETS:
            after: tuple[Any, ...] | None = None
            while True:
                rows = await self._engine.db.read(q.page, target, after, SWEEP_PAGE, heavy=True)
                changes = [c for c in (self._change(target, k, t) for k, t in rows) if c]
                if changes:
                    done = await self._engine.db.write(q.rewrite, target, changes)
                    rewritten += done
                    complete = complete and done == len(changes)
                if len(rows) < SWEEP_PAGE:
                    break
                after = rows[-1][0]
                if budget_s is not None and time.monotonic() - started > budget_s:
                    return rewritten
        if complete:
            if self.pending:
                retired = sorted(self.pending)
                await self._engine.db.write(_retire_keys, retired, self._engine.clock.now_ms())
            self.pending = set()
        return rewritten

    def _change(
        self, target: q.Target, key: tuple[Any, ...], text: str | None
    ) -> tuple[tuple[Any, ...], str, Any] | None:
        """(key, text read, new value) when the row is not under the current key, else None."""
        if text is None:
            return None
        stored: Any = orjson.loads(text) if target.json else text
        if crypto.sealed_kid(stored) == self.current:
            return None
        if target.json:
            value = crypto.open_json(stored, target.purpose)
            new: Any = self.sealer.seal_json(value, target.purpose) if self.sealer else value
        else:
            value = crypto.open_text(stored, target.purpose)
            new = self.sealer.seal_text(value, target.purpose) if self.sealer else value
        return key, text, new


def _add_key(conn: Connection, kid: str, now: int) -> None:
    # Another process may have added it since this one looked: add it once.
    if kid not in live_keys(q.key_history(conn)):
        record_audit(
            conn,
            now=now,
            app_id=None,
            actor="system",
            action="encryption.key_added",
            target=kid,
        )


def _retire_keys(conn: Connection, kids: list[str], now: int) -> None:
    live = live_keys(q.key_history(conn))
    for kid in kids:
        if kid in live:
            record_audit(
                conn,
                now=now,
                app_id=None,
                actor="worker",
                action="encryption.key_retired",
                target=kid,
            )


def sweep_job(engine: Engine) -> Any:
    """The worker job: one sweep (nothing to do unless old keys still hold data)."""
    return engine.encryption.sweep()
