"""The dashboard takes a segment filter in its URL (``f=segment:<key>``), as the query API."""

from __future__ import annotations

import re

import httpx

from sessionhub import Engine
from sessionhub.models.personalization import SegmentIn
from tests.conftest import Keys
from tests.personalization.support import send, view

HEADLINE = re.compile(r'data-metric="sessions" data-value="([^"]*)"')


async def test_overview_counts_only_the_segments_sessions(
    engine: Engine, keys: Keys, dash: httpx.AsyncClient
) -> None:
    """``?f=segment:vip`` shows the sessions of the segment's users; the unfiltered page
    shows all of them."""
    for user, n in (("a", 1), ("b", 2), ("c", 3)):
        await send(engine, keys.app_id, [view(f"p{n}")] * n, user_id=user)
    await engine.personalization.segments.put(keys.app_id, SegmentIn(key="vip", users=["b"]))
    everyone = await dash.get("/dashboard/")
    only = await dash.get("/dashboard/?f=segment:vip")
    assert 200 == everyone.status_code == only.status_code
    assert ["3"] == HEADLINE.findall(everyone.text)
    assert ["1"] == HEADLINE.findall(only.text)
    assert "segment" in only.text
