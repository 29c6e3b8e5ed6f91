"""Settings, read from ``SESSIONHUB_*`` environment variables and flags: the only reader of os.environ."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sessionhub.errors import InvalidInput


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set. Each field reads ``SESSIONHUB_<NAME>``."""

    data_dir: Path = _setting(Path("data"), "Directory for the SQLite file and other local data.")
    database_url: str = _setting(
        "",
        "Database URL: sqlite:///path/file.db or postgresql://user@host/db (default: SQLite in data_dir).",
    )
    redis_url: str = _setting("", "Redis URL for shared rate limits and live fan-out (optional).")
    rate_limits: bool = _setting(
        True, "Enforce rate limits (per key, client IP and session; limits are app settings)."
    )
    host: str = _setting("127.0.0.1", "Address the HTTP server listens on.")
    port: int = _setting(8000, "Port the HTTP server listens on.")
    run_worker: bool = _setting(True, "Run the background worker inside `serve`.")
    worker_interval_s: float = _setting(5.0, "Seconds between worker runs.")
    worker_batch: int = _setting(5000, "Rows a worker job changes per transaction.")
    max_body_bytes: int = _setting(
        1_048_576, "Largest request body accepted, in bytes (413 above)."
    )
    max_import_bytes: int = _setting(
        104_857_600,
        "Largest body POST /v1/import accepts, in bytes (use the CLI for bigger files).",
    )
    commit_batch_max: int = _setting(1000, "Most writes committed together in one transaction.")
    pg_pool_size: int = _setting(10, "PostgreSQL connections per process.")
    pg_writers: int = _setting(
        4, "PostgreSQL writer tasks per process (each commits its own batches)."
    )
    app_cache_s: float = _setting(5.0, "Seconds an API process caches an app's settings.")
    log_level: str = _setting("info", "Log level: debug, info, warning, error.")
    opentelemetry: bool = _setting(
        False,
        "Let FastAPI trace requests through the OpenTelemetry providers set up in the process (off: not even the per-request check).",
    )
    trusted_proxies: str = _setting(
        "",
        "Comma-separated addresses/CIDRs of proxies or CDNs whose X-Forwarded-For (and country header) to believe.",
    )
    country_header: str = _setting(
        "",
        "Header a trusted CDN sets to the client's country, e.g. CF-IPCountry (wins over the IP lookup).",
    )
    geoip_mmdb: str = _setting(
        "", "Path to a MaxMind-format .mmdb file for region and city (needs the geoip extra)."
    )
    work_attachment_max_bytes: int = _setting(
        1_048_576,
        "Largest work-session attachment, in bytes (uploads are also held to max_body_bytes).",
    )
    work_attachment_types: str = _setting(
        "image/png,image/jpeg,image/gif,image/webp,application/pdf,application/zip,text/plain,text/markdown,text/csv,application/json",
        "Comma-separated content types a work-session attachment may have.",
    )
    audit_salt: str = _setting(
        "",
        "Salt of the hashed subject ids in the audit log (default: a random salt kept in the database).",
    )
    encryption_key: str = _setting(
        "",
        "Key for encryption at rest of message content, state values and event properties: `sessionhub encryption keygen` makes one (empty: off).",
    )
    encryption_old_keys: str = _setting(
        "",
        "Comma-separated earlier encryption keys, still read while the worker re-encrypts their rows.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sessionhub.db`` in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sessionhub.db').resolve()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment, then apply explicit ``overrides`` (flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = environ.get(env_name(item.name))
            if raw is not None and raw != "":
                values[item.name] = _parse(item, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def env_name(name: str) -> str:
    return f"SESSIONHUB_{name.upper()}"


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting: the docs table."""
    rows = []
    for item in fields(Settings):
        rows.append((env_name(item.name), str(item.default), item.metadata["help"]))
    return rows


def _parse(item: dataclasses.Field[Any], raw: str) -> Any:
    kind = (
        item.type if isinstance(item.type, str) else getattr(item.type, "__name__", str(item.type))
    )
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise InvalidInput(f"{env_name(item.name)}={raw!r} is not a valid {kind}") from exc
    return raw
