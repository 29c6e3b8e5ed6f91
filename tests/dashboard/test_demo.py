"""``sessionhub demo``: a few days of realistic data in an app, through the real code paths."""

from __future__ import annotations

import asyncio
import re

from typer.testing import CliRunner

from sessionhub import Engine, Settings
from sessionhub.cli import cli
from sessionhub.models import SessionFilter


def test_demo_fills_an_app_with_visits_conversations_consent_and_work(
    database_url: str,
) -> None:
    """The command makes the app ``demo`` with a secret key and fills it: parsed user agents,
    classified sources, countries, campaigns, conversations with carts, consent, work."""
    result = CliRunner().invoke(
        cli, ["--database-url", database_url, "demo", "--days", "2", "--visits", "12"]
    )
    assert 0 == result.exit_code, result.output
    found = re.search(r"Filled app (app_\S+): (\d+) visits, (\d+) conversations", result.stdout)
    assert found is not None, result.stdout
    app_id = found.group(1)
    assert re.search(r"secret key\s+sk_\S+", result.stdout)

    async def check() -> None:
        engine = await Engine(Settings(database_url=database_url)).start(migrate=False)
        try:
            summary = await engine.analytics.query(
                app_id,
                {"metrics": ["sessions"], "dimensions": ["browser"], "date_range": "7d"},
            )
            assert int(found.group(2)) >= (summary.totals["sessions"] or 0) > 5
            browsers = {row.dimensions["browser"] for row in summary.rows}
            assert {"Chrome"} <= browsers
            sources = await engine.analytics.breakdown(app_id, "source", "7d", 50)
            assert len(sources.rows) >= 3
            chats = await engine.sessions.list(app_id, SessionFilter(kind="conversation"))
            assert len(chats.items) == int(found.group(3)) > 0
            info = await engine.memory.info(app_id, chats.items[0].id)
            assert info.message_count >= 4
            work = await engine.sessions.list(app_id, SessionFilter(kind="work"))
            assert len(work.items) >= 4
        finally:
            await engine.close()

    asyncio.run(check())
    again = CliRunner().invoke(
        cli, ["--database-url", database_url, "demo", "--days", "1", "--visits", "3"]
    )
    assert 0 == again.exit_code, again.output
    assert f"Filled app {app_id}" in again.stdout
    assert "secret key" not in again.stdout  # the app existed: no new key
