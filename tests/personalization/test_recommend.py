"""Recommendations: popularity, co-occurrence, personalized, session-based; offline evaluation."""

from __future__ import annotations

import pytest

from sessionhub import Engine, FakeClock
from sessionhub.errors import InvalidInput
from tests.personalization.support import new_app, send, view


async def _shop(engine: Engine) -> str:
    """Buyers of a mostly also view b; c is the most viewed overall; d is a hat."""
    app = await new_app(engine)
    for n in range(6):
        await send(engine, app, [view("a", "shoes"), view("b", "shoes")], user_id=f"pair{n}")
    for n in range(8):
        await send(engine, app, [view("c", "shoes")], user_id=f"c{n}")
    await send(engine, app, [view("d", "hats"), view("c", "shoes")], user_id="hat")
    await engine.personalization.recommendations.rebuild(app)
    return app


async def test_popular_items_rank_by_decayed_interactions(engine: Engine) -> None:
    """Cold start: the most interacted-with items first, with the reason 'popular'."""
    app = await _shop(engine)
    found = await engine.personalization.recommendations.recommend(app, strategy="popular", k=2)
    assert (["c", "a"], ["popular"]) == ([r.item for r in found.items], found.items[0].reasons)


async def test_similar_items_come_from_co_occurrence(engine: Engine) -> None:
    """People who viewed a also viewed b: b is a's nearest neighbour, and says so."""
    app = await _shop(engine)
    found = await engine.personalization.recommendations.recommend(app, item_id="a", k=1)
    assert "similar" == found.strategy
    assert ("b", ["similar to a"]) == (found.items[0].item, found.items[0].reasons)


async def test_personalized_excludes_seen_items_and_filters_by_category(engine: Engine) -> None:
    """A user who saw a gets b (not a again); a category filter keeps only that category."""
    app = await _shop(engine)
    await send(engine, app, [view("a", "shoes")], user_id="me")
    found = await engine.personalization.recommendations.recommend(app, user_id="me", k=3)
    items = [r.item for r in found.items]
    assert "personalized" == found.strategy
    assert "b" == items[0]
    assert "a" not in items
    hats = await engine.personalization.recommendations.recommend(
        app, user_id="me", k=3, category="hats"
    )
    assert ["d"] == [r.item for r in hats.items]
    seen = await engine.personalization.recommendations.recommend(
        app, user_id="me", k=5, exclude_seen=False
    )
    assert "a" in [r.item for r in seen.items]


async def test_session_based_recommendations_use_the_sessions_items(engine: Engine) -> None:
    """An anonymous visitor's session items drive the recommendations."""
    app = await _shop(engine)
    sessions = await send(engine, app, [view("b", "shoes")], device_id="anon")
    found = await engine.personalization.recommendations.recommend(app, session_id=sessions[0], k=1)
    assert ("session", "a") == (found.strategy, found.items[0].item)


async def test_a_strategy_without_its_id_is_refused(engine: Engine) -> None:
    """'similar' without item_id is a 422 naming the field."""
    app = await new_app(engine)
    with pytest.raises(InvalidInput) as caught:
        await engine.personalization.recommendations.recommend(app, strategy="similar")
    assert "item_id" == caught.value.details["field"]


async def test_offline_evaluation_scores_co_occurrence_above_popularity(
    engine: Engine, clock: FakeClock
) -> None:
    """Leave-last-out: where each first item predicts the next, 'similar' hits and 'popular' mostly misses."""
    app = await new_app(engine)
    pairs = [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")]
    for n in range(40):
        first, second = pairs[n % 4]
        await send(engine, app, [view(first, "x")], user_id=f"u{n}")
        clock.advance(1)
        await send(engine, app, [view(second, "x")], user_id=f"u{n}")
    # Half the users are held out; the other half's full histories train the model.
    result = await engine.personalization.evaluate(app, k=1, max_users=20)
    assert 20 == result.users
    assert result.hit_rate["similar"] > 0.9
    assert result.hit_rate["popular"] < 0.5
    assert result.ndcg["similar"] == pytest.approx(result.hit_rate["similar"])
