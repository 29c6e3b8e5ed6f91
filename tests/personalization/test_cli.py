"""``sessionhub recommend evaluate|rebuild`` and ``sessionhub profiles rebuild``."""

from __future__ import annotations

from sessionhub import Engine
from tests.test_cli import new_app, ok_json, sessionhub, with_engine


def _seed(database_url: str, app_id: str) -> None:
    async def work(engine: Engine) -> None:
        for n in range(12):
            for item in ("a", "b") if n % 2 else ("c", "d"):
                batch = [
                    {"type": "page_view", "user_id": f"u{n}", "properties": {"product_id": item}}
                ]
                await engine.events.ingest(app_id, batch)

    with_engine(database_url, work)


def test_recommend_evaluate_prints_hit_rate_and_ndcg_per_strategy(database_url: str) -> None:
    """The evaluation reports every strategy's hit rate and NDCG at k, as JSON and as text."""
    app_id = new_app(database_url)
    _seed(database_url, app_id)
    result = ok_json(
        sessionhub(
            database_url,
            "recommend",
            "evaluate",
            "--app",
            app_id,
            "--k",
            "3",
            "--users",
            "4",
            "--json",
        )
    )
    assert (3, 4) == (result["k"], result["users"])
    assert {"popular", "similar", "personalized", "session"} == set(result["hit_rate"])
    text = sessionhub(
        database_url, "recommend", "evaluate", "--app", app_id, "--strategy", "popular"
    )
    assert 0 == text.exit_code
    assert "popular" in text.stdout
    assert "similar" not in text.stdout
    bad = sessionhub(database_url, "recommend", "evaluate", "--app", app_id, "--strategy", "magic")
    assert 2 == bad.exit_code


def test_rebuilds_from_the_command_line(database_url: str) -> None:
    """Profiles and the item model rebuild from raw events."""
    app_id = new_app(database_url)
    _seed(database_url, app_id)
    rebuilt = ok_json(sessionhub(database_url, "profiles", "rebuild", "--app", app_id, "--json"))
    assert {"profiles": 12, "events": 24} == rebuilt
    items = sessionhub(database_url, "recommend", "rebuild", "--app", app_id)
    assert (0, "items  4") == (items.exit_code, items.stdout.strip())
    missing = sessionhub(database_url, "profiles", "rebuild", "--app", "app_nope")
    assert 1 == missing.exit_code
