"""What a session is fixed with at its start: device, place, source and landing page.

Both ways a session starts (an explicit create, or the first event of a device the
server sessionizes) take their attributes from here, so they always agree. Attributes
never change afterwards: breakdowns by them add up to the total.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from sessionhub.enrich.client import ClientInfo
from sessionhub.enrich.geo import GeoLookup
from sessionhub.enrich.source import classify_source
from sessionhub.enrich.useragent import parse_user_agent

UTM_FIELDS = ("source", "medium", "campaign", "term", "content")


def page_path(url: str | None) -> str | None:
    """The page a URL names: its path, without scheme, host, query or fragment."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:2048]
    path = parts.path or "/"
    return path[:2048]


def campaign_params(url: str | None) -> dict[str, str | None]:
    """The utm_* parameters of a landing URL, as session columns."""
    values: dict[str, str | None] = {f"utm_{name}": None for name in UTM_FIELDS}
    if not url or "?" not in url:
        return values
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return values
    for name in UTM_FIELDS:
        found = query.get(f"utm_{name}")
        if found and found[0]:
            values[f"utm_{name}"] = found[0][:200]
    return values


def own_hosts(allowed_origins: list[str]) -> tuple[str, ...]:
    """The hosts of an app's own origins: a referrer from them is internal traffic."""
    hosts = []
    for origin in allowed_origins:
        host = urlsplit(origin).hostname
        if host:
            hosts.append(host)
    return tuple(hosts)


def start_attributes(
    entry_url: str | None,
    referrer: str | None,
    client: ClientInfo,
    geo: GeoLookup,
    hosts: tuple[str, ...] = (),
    user_agent: str | None = None,
) -> dict[str, Any]:
    """The session columns fixed at its start (``user_agent`` overrides the client's)."""
    ua = parse_user_agent(user_agent or client.user_agent)
    place = geo.lookup(client.ip)
    source = classify_source(entry_url, referrer, hosts)
    return {
        "device_type": ua.device_type,
        "browser": ua.browser,
        "os": ua.os,
        "is_bot": ua.device_type == "bot",
        "country": client.country or place.country,
        "region": place.region if not client.country or client.country == place.country else None,
        "city": place.city if not client.country or client.country == place.country else None,
        "source": source.source,
        "medium": source.medium,
        "referrer_domain": source.referrer_domain,
        "entry_page": page_path(entry_url),
        "exit_page": page_path(entry_url),
        "referrer": referrer,
        **campaign_params(entry_url),
    }
