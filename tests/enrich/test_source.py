"""Source classification: campaign tags, click ids, referrer lists, AI assistants, internal, direct."""

from __future__ import annotations

import pytest

from sessionhub.enrich.source import Source, classify_source


@pytest.mark.parametrize(
    ("page", "referrer", "expected"),
    [
        (
            "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=bf",
            "https://www.google.com/",
            Source("newsletter", "email", "bf", "google.com"),
        ),
        (
            "https://shop.example/?gclid=abc",
            "https://www.google.com/",
            Source("google", "cpc", None, "google.com"),
        ),
        ("https://shop.example/?msclkid=1", None, Source("bing", "cpc", None, None)),
        (
            "https://shop.example/",
            "https://www.google.com/search?q=x",
            Source("Google", "organic", None, "google.com"),
        ),
        ("https://shop.example/", "https://t.co/abc", Source("Twitter", "social", None, "t.co")),
        (
            "https://shop.example/",
            "https://mail.google.com/mail/u/0",
            Source("Gmail", "email", None, "mail.google.com"),
        ),
        (
            "https://shop.example/",
            "https://chatgpt.com/",
            Source("ChatGPT", "ai", None, "chatgpt.com"),
        ),
        (
            "https://shop.example/",
            "https://www.perplexity.ai/search",
            Source("Perplexity", "ai", None, "perplexity.ai"),
        ),
        (
            "https://shop.example/b",
            "https://shop.example/a",
            Source("internal", "internal", None, "shop.example"),
        ),
        (
            "https://shop.example/",
            "https://blog.example.org/p",
            Source("blog.example.org", "referral", None, "blog.example.org"),
        ),
        ("https://shop.example/", None, Source("direct", "none", None, None)),
        ("/relative/path", "", Source("direct", "none", None, None)),
    ],
)
def test_classify_source(page: str, referrer: str | None, expected: Source) -> None:
    """Tags win over click ids, which win over the referrer; no referrer is direct."""
    assert expected == classify_source(page, referrer)


def test_app_origins_make_a_referrer_internal() -> None:
    """A referrer from one of the app's own hosts (e.g. its checkout domain) is internal."""
    assert (
        "internal"
        == classify_source(
            "https://shop.example/",
            "https://pay.shop-checkout.example/x",
            ("pay.shop-checkout.example",),
        ).medium
    )
