"""User agents: device type, browser, OS, and bots."""

from __future__ import annotations

import pytest

from sessionhub.enrich.useragent import parse_user_agent


@pytest.mark.parametrize(
    ("header", "device", "browser", "os"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
            "desktop",
            "Chrome",
            "Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "mobile",
            "Mobile Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "tablet",
            "Mobile Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
            "tablet",
            "Chrome",
            "Android",
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "bot",
            "Googlebot",
            None,
        ),
        ("python-requests/2.31", "bot", "Python Requests", None),
        ("", "unknown", None, None),
    ],
)
def test_parse_user_agent(header: str, device: str, browser: str | None, os: str | None) -> None:
    """Each user agent is classified into device type, browser and OS; crawlers are bots."""
    ua = parse_user_agent(header)
    assert (device, browser, os) == (ua.device_type, ua.browser, ua.os)
