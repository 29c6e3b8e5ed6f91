"""Who is on the other end of a request: its IP behind trusted proxies, its CDN country.

Forwarded headers are believed only from a trusted proxy; otherwise anyone could claim
any address or country.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What the engine may use of the request: never stored as such."""

    ip: str | None = None
    user_agent: str | None = None
    country: str | None = None  # from a trusted CDN header, wins over the IP lookup
    gpc: bool = False  # Sec-GPC: 1, an opt-out of sale and sharing (core/consent.py)
    dnt: bool = False  # DNT: 1, honoured when the app says so


def parse_networks(spec: str) -> tuple[Network, ...]:
    """Parse ``"10.0.0.0/8, 127.0.0.1"`` into networks (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _trusted(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in networks)


def client_info(
    peer: str | None,
    headers: Mapping[str, str],
    trusted: tuple[Network, ...] = (),
    country_header: str = "",
) -> ClientInfo:
    """Work out the client's IP and country from the peer address and, if trusted, the headers."""
    ip = peer
    country = None
    if peer and trusted and _trusted(peer, trusted):
        forwarded = [
            hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()
        ]
        # The rightmost address a trusted proxy did not add is the client.
        for hop in reversed(forwarded):
            ip = hop
            if not _trusted(hop, trusted):
                break
        if country_header:
            value = headers.get(country_header.lower(), "").strip().upper()
            if len(value) == 2 and value.isalpha() and value != "XX":
                country = value
    return ClientInfo(
        ip=ip,
        user_agent=headers.get("user-agent"),
        country=country,
        gpc=headers.get("sec-gpc", "").strip() == "1",
        dnt=headers.get("dnt", "").strip() == "1",
    )
