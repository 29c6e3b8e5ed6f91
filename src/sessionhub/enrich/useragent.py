"""Parse a User-Agent into device type, browser and OS (ua-parser), and spot bots (crawlerdetect)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from crawlerdetect import CrawlerDetect
from ua_parser import parse

_TABLET_HINTS = ("ipad", "tablet", "kindle", "silk/", "playbook", "nexus 7", "nexus 9", "nexus 10")
_CRAWLERS = CrawlerDetect()
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}


@dataclass(frozen=True, slots=True)
class UserAgent:
    device_type: str  # desktop | mobile | tablet | bot | unknown
    browser: str | None
    os: str | None


UNKNOWN = UserAgent("unknown", None, None)


@lru_cache(maxsize=4096)
def parse_user_agent(header: str | None) -> UserAgent:
    """Classify a User-Agent header; an empty or missing one is ``unknown``."""
    if not header:
        return UNKNOWN
    result = parse(header[:1024])
    browser = result.user_agent.family if result.user_agent else None
    os_name = result.os.family if result.os else None
    device = result.device.family if result.device else None
    lowered = header.lower()
    if device == "Spider" or _CRAWLERS.isCrawler(header):
        kind = "bot"
    elif any(hint in lowered for hint in _TABLET_HINTS) or (
        os_name == "Android" and "mobile" not in lowered
    ):
        kind = "tablet"
    elif os_name in _MOBILE_OS or "mobile" in lowered:
        kind = "mobile"
    elif browser in (None, "Other") and os_name in (None, "Other"):
        kind = "unknown"
    else:
        kind = "desktop"
    return UserAgent(
        kind,
        None if browser in (None, "Other") else browser,
        None if os_name in (None, "Other") else os_name,
    )
