"""Client IP and country: forwarded headers only from trusted proxies."""

from __future__ import annotations

from sessionhub.enrich.client import client_info, parse_networks
from sessionhub.enrich.geo import GeoLookup

TRUSTED = parse_networks("127.0.0.1, 10.0.0.0/8")


def test_rightmost_untrusted_forwarded_address_is_the_client() -> None:
    """Through a chain of trusted proxies, the client is the rightmost address none of them added."""
    info = client_info("127.0.0.1", {"x-forwarded-for": "1.1.1.1, 81.2.69.160, 10.0.0.7"}, TRUSTED)
    assert "81.2.69.160" == info.ip


def test_untrusted_peer_cannot_claim_an_address_or_country() -> None:
    """A peer that is not a trusted proxy is the client, whatever its headers say."""
    info = client_info(
        "8.8.8.8", {"x-forwarded-for": "81.2.69.160", "cf-ipcountry": "DE"}, TRUSTED, "CF-IPCountry"
    )
    assert ("8.8.8.8", None) == (info.ip, info.country)


def test_cdn_country_header_is_read_from_trusted_peers_only_when_valid() -> None:
    """A two-letter country header from a trusted CDN counts; XX (unknown) and junk do not."""
    good = client_info("10.1.2.3", {"cf-ipcountry": "de"}, TRUSTED, "CF-IPCountry")
    unknown = client_info("10.1.2.3", {"cf-ipcountry": "XX"}, TRUSTED, "CF-IPCountry")
    junk = client_info("10.1.2.3", {"cf-ipcountry": "<script>"}, TRUSTED, "CF-IPCountry")
    assert ["DE", None, None] == [good.country, unknown.country, junk.country]


def test_country_lookup_offline() -> None:
    """Public addresses map to their country offline; private and malformed ones to none."""
    geo = GeoLookup()
    assert ["GB", "US", None, None] == [
        geo.lookup(ip).country for ip in ("81.2.69.160", "8.8.8.8", "10.0.0.1", "not-an-ip")
    ]
