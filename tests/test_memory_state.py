"""Session state through the Engine: preferences, cart, key/value state, response cache, info, shares."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from sessionhub import Conflict, Engine, FakeClock, NotFound
from sessionhub.models import (
    CacheLookup,
    CachePut,
    CartItemIn,
    MessageIn,
    SessionCreate,
    ShareCreate,
    StatePut,
)
from sessionhub.worker import Worker


@pytest.fixture
async def app_id(engine: Engine) -> str:
    app_id = (await engine.apps.create("shop")).id
    await engine.sessions.create(app_id, SessionCreate(id="s", kind="conversation", user_id="u"))
    return app_id


def item(sku: str, price: object, quantity: int = 1, **extra: object) -> CartItemIn:
    return CartItemIn.model_validate(
        {"sku": sku, "name": sku.title(), "price": price, "quantity": quantity, **extra}
    )


# -- preferences ----------------------------------------------------------------------------


async def test_preferences_merge_patch(engine: Engine, app_id: str) -> None:
    """A merge patch merges objects, replaces arrays and removes keys set to null."""
    await engine.preferences.replace(
        app_id, "s", {"budget": {"min": 500, "max": 1000}, "brands": ["Apple"], "ship": "std"}
    )
    result = await engine.preferences.patch(
        app_id, "s", {"budget": {"max": 800}, "brands": ["Samsung"], "ship": None}
    )
    assert {"budget": {"min": 500, "max": 800}, "brands": ["Samsung"]} == result.preferences
    assert result == await engine.preferences.get(app_id, "s")


async def test_preferences_replace_and_delete_key(engine: Engine, app_id: str) -> None:
    """Replace sets the whole object; deleting a key removes it, a missing key is NotFound."""
    await engine.preferences.patch(app_id, "s", {"a": 1, "b": 2})
    await engine.preferences.replace(app_id, "s", {"c": 3, "d": 4})
    assert {"d": 4} == (await engine.preferences.delete_key(app_id, "s", "c")).preferences
    with pytest.raises(NotFound):
        await engine.preferences.delete_key(app_id, "s", "c")


async def test_preferences_of_unknown_session_are_404(engine: Engine, app_id: str) -> None:
    """Preferences belong to a session: an unknown one is NotFound, and nothing is created."""
    with pytest.raises(NotFound):
        await engine.preferences.patch(app_id, "ghost", {"a": 1})
    with pytest.raises(NotFound):
        await engine.sessions.get(app_id, "ghost")


# -- cart -----------------------------------------------------------------------------------


async def test_cart_totals_are_exact_decimal_strings(engine: Engine, app_id: str) -> None:
    """Prices given as numbers or strings add up exactly and come back as decimal strings."""
    await engine.cart.add(app_id, "s", item("phone", 999))
    await engine.cart.add(app_id, "s", item("case", 0.1, 3))
    cart = await engine.cart.add(app_id, "s", item("cable", "0.20", 1, category="acc"))
    assert ("999.50", 5) == (cart.total, cart.item_count)
    assert ["999", "0.1", "0.20"] == [i.price for i in cart.items]
    assert Decimal("0.3") == Decimal(cart.items[1].subtotal)


async def test_adding_same_sku_adds_quantity(engine: Engine, app_id: str) -> None:
    """Adding a sku already in the cart adds to its quantity instead of a second line."""
    await engine.cart.add(app_id, "s", item("phone", "10", 2))
    cart = await engine.cart.add(app_id, "s", item("phone", "10", 3))
    assert [("phone", 5)] == [(i.sku, i.quantity) for i in cart.items]


async def test_cart_update_remove_clear(engine: Engine, app_id: str) -> None:
    """Quantity updates, removal and clearing change the cart; unknown skus are NotFound."""
    await engine.cart.add(app_id, "s", item("a", "1.50"))
    await engine.cart.add(app_id, "s", item("b", "2"))
    assert "5.50" == (await engine.cart.set_quantity(app_id, "s", "b", 2)).total
    assert ["b"] == [i.sku for i in (await engine.cart.remove(app_id, "s", "a")).items]
    with pytest.raises(NotFound):
        await engine.cart.remove(app_id, "s", "a")
    assert 1 == await engine.cart.clear(app_id, "s")
    empty = await engine.cart.get(app_id, "s")
    assert ([], 0, "0") == (empty.items, empty.item_count, empty.total)


@pytest.mark.parametrize(
    ("field", "value"),
    [("price", "-1"), ("price", "abc"), ("price", True), ("quantity", 0), ("sku", "")],
)
def test_bad_cart_item_names_the_field(field: str, value: object) -> None:
    """A bad cart item is rejected with an error located at the offending field."""
    data: dict[str, object] = {"sku": "a", "name": "A", "price": "1", "quantity": 1, field: value}
    with pytest.raises(ValidationError) as caught:
        CartItemIn.model_validate(data)
    assert field == caught.value.errors()[0]["loc"][0]


# -- key/value state ------------------------------------------------------------------------


async def test_state_scopes_are_separate(engine: Engine, app_id: str) -> None:
    """The same key holds different values in session, user and app scope."""
    for scope in ("session", "user", "app"):
        await engine.state.put(app_id, scope, "k", StatePut(value=scope), session_id="s")
    values = [
        (await engine.state.get(app_id, scope, "k", session_id="s")).value
        for scope in ("session", "user", "app")
    ]
    assert ["session", "user", "app"] == values


async def test_user_state_is_shared_across_the_users_sessions(engine: Engine, app_id: str) -> None:
    """User state set through one session is read through another session of the same user."""
    await engine.sessions.create(app_id, SessionCreate(id="s2", user_id="u"))
    await engine.state.put(app_id, "user", "lang", StatePut(value="de"), session_id="s")
    assert "de" == (await engine.state.get(app_id, "user", "lang", session_id="s2")).value
    assert "de" == (await engine.state.get(app_id, "user", "lang", user_id="u")).value


async def test_user_state_of_anonymous_session_is_conflict(engine: Engine, app_id: str) -> None:
    """A session without a user has no user state to write."""
    await engine.sessions.create(app_id, SessionCreate(id="anon"))
    with pytest.raises(Conflict):
        await engine.state.put(app_id, "user", "k", StatePut(value=1), session_id="anon")


async def test_state_ttl_hides_then_worker_removes(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """A key past its TTL reads as absent at once; the worker removes it."""
    await engine.state.put(app_id, "app", "promo", StatePut(value=True, ttl_s=60))
    await engine.state.put(app_id, "app", "keep", StatePut(value=1))
    clock.advance(60)
    with pytest.raises(NotFound):
        await engine.state.get(app_id, "app", "promo")
    assert ["keep"] == [e.key for e in (await engine.state.list(app_id, "app")).items]
    assert 1 == (await Worker(engine).run_once())["purge_expired_state"]


async def test_state_delete(engine: Engine, app_id: str) -> None:
    """Deleting a key removes it; deleting it again is NotFound."""
    await engine.state.put(app_id, "session", "k", StatePut(value={"a": 1}), session_id="s")
    await engine.state.delete(app_id, "session", "k", session_id="s")
    with pytest.raises(NotFound):
        await engine.state.delete(app_id, "session", "k", session_id="s")


# -- response cache -------------------------------------------------------------------------


async def test_cache_matches_normalized_prompt_and_counts(engine: Engine, app_id: str) -> None:
    """A lookup matches regardless of case and whitespace, and hits and misses are counted."""
    await engine.response_cache.put(
        app_id, CachePut(prompt="What  phones do you HAVE?", response="Many."), session_id="s"
    )
    hit = await engine.response_cache.lookup(
        app_id, CacheLookup(prompt="  what phones do you have? "), session_id="s"
    )
    miss = await engine.response_cache.lookup(
        app_id, CacheLookup(prompt="what laptops?"), session_id="s"
    )
    stats = await engine.response_cache.stats(app_id, session_id="s")
    assert (True, "Many.", 1, False) == (hit.hit, hit.entry and hit.entry.response, 1, miss.hit)
    assert (1, 1, 1, 0.5) == (stats.hits, stats.misses, stats.entries, stats.hit_rate)


async def test_cache_session_and_app_scopes_are_separate(engine: Engine, app_id: str) -> None:
    """An answer cached for a session is not an app-wide answer, and the reverse."""
    await engine.response_cache.put(app_id, CachePut(prompt="p", response="mine"), session_id="s")
    await engine.response_cache.put(app_id, CachePut(prompt="p", response="everyone's"))
    session_hit = await engine.response_cache.lookup(
        app_id, CacheLookup(prompt="p"), session_id="s"
    )
    app_hit = await engine.response_cache.lookup(app_id, CacheLookup(prompt="p"))
    assert ["mine", "everyone's"] == [
        r.entry.response if r.entry else None for r in (session_hit, app_hit)
    ]


async def test_cache_entry_expires(engine: Engine, app_id: str, clock: FakeClock) -> None:
    """A cached answer past its TTL is a miss."""
    await engine.response_cache.put(app_id, CachePut(prompt="p", response="r", ttl_s=10))
    clock.advance(10)
    assert not (await engine.response_cache.lookup(app_id, CacheLookup(prompt="p"))).hit


# -- session info ---------------------------------------------------------------------------


async def test_info_summarizes_the_session(engine: Engine, app_id: str, clock: FakeClock) -> None:
    """Info gives messages by role, duration, preferences, cart and top topics of user messages."""
    await engine.memory.append(
        app_id,
        "s",
        [
            MessageIn(role="user", content="Which smartphone has the best camera?"),
            MessageIn(role="assistant", content="The camera camera camera on..."),
            MessageIn(role="user", content="A smartphone under 500 with a good camera"),
        ],
    )
    clock.advance(90)
    await engine.memory.add(app_id, "s", MessageIn(role="user", content="smartphone case"))
    await engine.preferences.patch(app_id, "s", {"brands": ["Apple"]})
    await engine.cart.add(app_id, "s", item("phone", "499.99"))
    info = await engine.memory.info(app_id, "s", topics=2)
    assert {"user": 3, "assistant": 1} == info.messages_by_role
    assert [("smartphone", 3), ("camera", 2)] == [(t.word, t.count) for t in info.top_topics]
    assert (90.0, {"brands": ["Apple"]}, "499.99") == (
        info.duration_s,
        info.preferences,
        info.cart.total,
    )


async def test_info_topics_use_the_chosen_stopword_language(engine: Engine, app_id: str) -> None:
    """German stopwords drop German filler words that English stopwords keep."""
    await engine.memory.add(app_id, "s", MessageIn(role="user", content="Ich suche eine Kamera"))
    german = await engine.memory.info(app_id, "s", language="de")
    english = await engine.memory.info(app_id, "s", language="en")
    assert ["kamera", "suche"] == [t.word for t in german.top_topics]
    assert {"eine", "ich"} <= {t.word for t in english.top_topics}


# -- shares ---------------------------------------------------------------------------------


async def test_share_shows_transcript_only(engine: Engine, app_id: str) -> None:
    """A share link shows user and assistant messages, not system prompts or tool output."""
    await engine.memory.append(
        app_id,
        "s",
        [
            MessageIn(role="system", content="secret prompt"),
            MessageIn(role="user", content="hi"),
            MessageIn(role="tool", content="{}"),
            MessageIn(role="assistant", content="hello"),
        ],
    )
    share = await engine.shares.create(app_id, "s")
    view = await engine.shares.view(share.token)
    assert [("user", "hi"), ("assistant", "hello")] == [(m.role, m.content) for m in view.messages]


async def test_share_expires_and_revokes(engine: Engine, app_id: str, clock: FakeClock) -> None:
    """A share stops working when it expires or is revoked, like an unknown token."""
    timed = await engine.shares.create(app_id, "s", ShareCreate(expires_in_s=60))
    open_ended = await engine.shares.create(app_id, "s")
    clock.advance(60)
    with pytest.raises(NotFound):
        await engine.shares.view(timed.token)
    await engine.shares.view(open_ended.token)
    revoked = await engine.shares.revoke(app_id, "s", open_ended.id)
    assert revoked.revoked_at is not None
    with pytest.raises(NotFound):
        await engine.shares.view(open_ended.token)
    with pytest.raises(NotFound):
        await engine.shares.view("shr_unknown")


async def test_share_tokens_are_not_listed(engine: Engine, app_id: str) -> None:
    """Listing a session's shares gives their ids, never their tokens."""
    issued = await engine.shares.create(app_id, "s")
    listed = await engine.shares.list(app_id, "s")
    assert [issued.id] == [s.id for s in listed]
    assert "token" not in listed[0].model_dump()
