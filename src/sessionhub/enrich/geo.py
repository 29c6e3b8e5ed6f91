"""Where a client is: country offline from the IP (iptocc), region and city from an MMDB file.

The IP is only looked up, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import iptocc

from sessionhub.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Place:
    country: str | None
    region: str | None = None
    city: str | None = None


NOWHERE = Place(None)


class GeoLookup:
    """Country by iptocc; with an operator's MMDB (maxminddb), region and city too."""

    def __init__(self, mmdb_path: Path | None = None):
        self._reader: Any = None
        if mmdb_path is not None:
            try:
                import maxminddb
            except ImportError as exc:
                raise InvalidInput(
                    "SESSIONHUB_GEOIP_MMDB is set but maxminddb is missing: pip install 'sessionhub[geoip]'"
                ) from exc
            if not mmdb_path.is_file():
                raise InvalidInput(f"SESSIONHUB_GEOIP_MMDB: no file at {mmdb_path}")
            self._reader = maxminddb.open_database(str(mmdb_path))
        self.lookup = lru_cache(maxsize=16384)(self._lookup)

    def _lookup(self, ip: str | None) -> Place:
        if not ip:
            return NOWHERE
        if self._reader is not None:
            try:
                record = self._reader.get(ip)
            except ValueError:
                return NOWHERE
            if record:
                return Place(
                    _dig(record, "country", "iso_code"),
                    _dig(record, "subdivisions", 0, "names", "en"),
                    _dig(record, "city", "names", "en"),
                )
        try:
            country = iptocc.country_code(ip)
        except ValueError:
            return NOWHERE
        return Place(country) if country else NOWHERE


def _dig(value: Any, *path: str | int) -> str | None:
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return value if isinstance(value, str) else None
