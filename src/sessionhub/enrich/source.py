"""Classify where a visit came from: campaign tags, click ids, the referrer, or nothing.

Order: utm_* parameters first, then ad click ids, then the referrer against Snowplow's
referer list (search, social, email), AI assistants, the app's own origin (internal),
any other site (referral); no referrer at all is direct.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

from referer_parser import Referer

# Click ids that ad platforms append to landing URLs: (source, medium).
CLICK_IDS: dict[str, tuple[str, str]] = {
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "dclid": ("google", "display"),
    "msclkid": ("bing", "cpc"),
    "fbclid": ("facebook", "social"),
    "ttclid": ("tiktok", "cpc"),
    "twclid": ("twitter", "cpc"),
    "li_fat_id": ("linkedin", "cpc"),
    "yclid": ("yandex", "cpc"),
    "epik": ("pinterest", "cpc"),
    "rdt_cid": ("reddit", "cpc"),
}

# Hosts of AI assistants whose answers link out: host suffix -> source name.
AI_ASSISTANTS: dict[str, str] = {
    "chatgpt.com": "ChatGPT",
    "chat.openai.com": "ChatGPT",
    "perplexity.ai": "Perplexity",
    "claude.ai": "Claude",
    "gemini.google.com": "Gemini",
    "bard.google.com": "Gemini",
    "copilot.microsoft.com": "Copilot",
    "chat.deepseek.com": "DeepSeek",
    "you.com": "You.com",
    "phind.com": "Phind",
    "meta.ai": "Meta AI",
    "grok.com": "Grok",
    "chat.mistral.ai": "Mistral",
}


@dataclass(frozen=True, slots=True)
class Source:
    source: str  # e.g. google, newsletter, ChatGPT, example.org, direct
    medium: str  # e.g. cpc, organic, search, social, email, ai, referral, internal, none
    campaign: str | None
    referrer_domain: str | None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:
        return None
    return host.lower().removeprefix("www.") if host else None


def _matches(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def classify_source(
    page_url: str | None, referrer: str | None, own_hosts: tuple[str, ...] = ()
) -> Source:
    """Say where a visit landing on ``page_url`` from ``referrer`` came from."""
    return _classify(page_url or "", referrer or "", own_hosts)


@lru_cache(maxsize=8192)
def _classify(page_url: str, referrer: str, own_hosts: tuple[str, ...]) -> Source:
    query = parse_qs(urlsplit(page_url).query) if "?" in page_url else {}
    ref_host = _host(referrer)
    campaign = _first(query, "utm_campaign")
    utm_source = _first(query, "utm_source")
    if utm_source:
        return Source(utm_source, _first(query, "utm_medium") or "referral", campaign, ref_host)
    for param, (source, medium) in CLICK_IDS.items():
        if param in query:
            return Source(source, medium, campaign, ref_host)
    if not ref_host:
        return Source("direct", "none", campaign, None)
    page_host = _host(page_url)
    own = {h.lower().removeprefix("www.") for h in own_hosts if h}
    if page_host:
        own.add(page_host)
    if any(_matches(ref_host, h) for h in own):
        return Source("internal", "internal", campaign, ref_host)
    for suffix, name in AI_ASSISTANTS.items():
        if _matches(ref_host, suffix):
            return Source(name, "ai", campaign, ref_host)
    known = Referer(referrer, page_url or "http://localhost/")
    if known.known and known.medium in {"search", "social", "email"} and known.referer:
        medium = "organic" if known.medium == "search" else known.medium
        return Source(known.referer, medium, campaign, ref_host)
    return Source(ref_host, "referral", campaign, ref_host)


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0][:200] if values and values[0] else None
