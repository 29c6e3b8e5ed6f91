"""Conversation memory and session state over HTTP: routes, scopes, errors, the public share view."""

from __future__ import annotations

import httpx

from sessionhub import Engine, FakeClock
from tests.conftest import Keys, bearer

S = "/v1/sessions/chat-1"


async def post_messages(api: httpx.AsyncClient, token: str, *contents: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": c} for c in contents]}
    return await api.post(f"{S}/messages/batch", json=body, headers=bearer(token))


async def test_first_message_creates_the_session(api: httpx.AsyncClient, keys: Keys) -> None:
    """POSTing a message to an unknown id with a secret key creates the conversation (201)."""
    r = await api.post(
        f"{S}/messages?user_id=u1",
        json={"role": "user", "content": "What smartphones do you have?", "client_id": "m1"},
        headers=bearer(keys.secret),
    )
    session = await api.get(S, headers=bearer(keys.secret))
    assert (201, "m1") == (r.status_code, r.json()["client_id"])
    assert ("conversation", "u1") == (session.json()["kind"], session.json()["user_id"])


async def test_publishable_key_may_not_append(api: httpx.AsyncClient, keys: Keys) -> None:
    """Publishable keys are write-only for tracking and cannot write conversation messages."""
    r = await api.post(
        f"{S}/messages", json={"role": "user", "content": "hi"}, headers=bearer(keys.publishable)
    )
    assert (403, "forbidden") == (r.status_code, r.json()["error"]["code"])


async def test_unknown_role_is_422_naming_the_field(api: httpx.AsyncClient, keys: Keys) -> None:
    """A message with a role outside user/assistant/system/tool is a 422 located at role."""
    r = await api.post(
        f"{S}/messages", json={"role": "bot", "content": "hi"}, headers=bearer(keys.secret)
    )
    assert 422 == r.status_code
    assert ["body", "role"] == r.json()["error"]["details"]["errors"][0]["loc"]


async def test_paging_last_and_forward(api: httpx.AsyncClient, keys: Keys) -> None:
    """GET messages gives the last N oldest first; the cursor and forward direction page on."""
    await post_messages(api, keys.secret, "a", "b", "c", "d", "e")
    last = (await api.get(f"{S}/messages?limit=2", headers=bearer(keys.secret))).json()
    older = await api.get(
        f"{S}/messages",
        params={"limit": 2, "cursor": last["next_cursor"]},
        headers=bearer(keys.secret),
    )
    first = await api.get(f"{S}/messages?limit=2&direction=forward", headers=bearer(keys.secret))
    assert ["d", "e"] == [m["content"] for m in last["items"]]
    assert ["b", "c"] == [m["content"] for m in older.json()["items"]]
    assert ["a", "b"] == [m["content"] for m in first.json()["items"]]


async def test_context_window_and_count(api: httpx.AsyncClient, keys: Keys) -> None:
    """The context route fits a budget; count gives totals by role; a budget in no unit is 422."""
    await post_messages(api, keys.secret, "aaaa", "bbbb", "cccc")
    window = await api.get(f"{S}/messages/context?max_chars=8", headers=bearer(keys.secret))
    count = await api.get(f"{S}/messages/count", headers=bearer(keys.secret))
    neither = await api.get(f"{S}/messages/context", headers=bearer(keys.secret))
    assert ["bbbb", "cccc"] == [m["content"] for m in window.json()["items"]]
    assert {"count": 3, "by_role": {"user": 3}} == count.json()
    assert 422 == neither.status_code


async def test_pop_and_clear(api: httpx.AsyncClient, keys: Keys) -> None:
    """DELETE messages/last pops the newest (404 once empty); DELETE messages clears."""
    await post_messages(api, keys.secret, "a", "b", "c")
    popped = await api.delete(f"{S}/messages/last", headers=bearer(keys.secret))
    cleared = await api.delete(f"{S}/messages", headers=bearer(keys.secret))
    empty = await api.delete(f"{S}/messages/last", headers=bearer(keys.secret))
    assert ("c", {"removed": 2}, 404) == (
        popped.json()["content"],
        cleared.json(),
        empty.status_code,
    )


async def test_reading_unknown_session_is_404(api: httpx.AsyncClient, keys: Keys) -> None:
    """Reading messages of a session that does not exist is a 404 not_found, not an empty list."""
    r = await api.get("/v1/sessions/nope/messages", headers=bearer(keys.secret))
    assert (404, "not_found") == (r.status_code, r.json()["error"]["code"])


async def test_other_apps_cannot_read_messages(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """A secret key of another app does not see this app's conversation (404)."""
    await post_messages(api, keys.secret, "private")
    other = await engine.apps.create("other")
    token = (await engine.keys.issue("secret", other.id)).token
    r = await api.get(f"{S}/messages", headers=bearer(token))
    assert 404 == r.status_code


async def test_cart_over_http_uses_decimal_strings(api: httpx.AsyncClient, keys: Keys) -> None:
    """The cart takes the seed's item shape and returns prices and total as strings."""
    await post_messages(api, keys.secret, "hi")
    item = {"name": "iPhone 15 Pro", "price": 999, "category": "smartphone", "sku": "IPH15PRO-256"}
    await api.post(f"{S}/cart/items", json=item, headers=bearer(keys.secret))
    r = await api.post(
        f"{S}/cart/items", json={**item, "price": "999.00"}, headers=bearer(keys.secret)
    )
    body = r.json()
    assert ("1998.00", 2, "999.00") == (
        body["total"],
        body["item_count"],
        body["items"][0]["price"],
    )


async def test_bad_cart_item_is_422_naming_the_field(api: httpx.AsyncClient, keys: Keys) -> None:
    """A negative price is a 422 whose error locates the price field."""
    await post_messages(api, keys.secret, "hi")
    item = {"name": "X", "price": -5, "sku": "x"}
    r = await api.post(f"{S}/cart/items", json=item, headers=bearer(keys.secret))
    assert 422 == r.status_code
    assert ["body", "price"] == r.json()["error"]["details"]["errors"][0]["loc"]


async def test_cart_update_remove_clear(api: httpx.AsyncClient, keys: Keys) -> None:
    """PATCH sets a quantity, DELETE an item removes it, DELETE cart empties it."""
    await post_messages(api, keys.secret, "hi")
    h = bearer(keys.secret)
    for sku in ("a", "b"):
        await api.post(f"{S}/cart/items", json={"sku": sku, "name": sku, "price": "2.5"}, headers=h)
    patched = await api.patch(f"{S}/cart/items/a", json={"quantity": 4}, headers=h)
    removed = await api.delete(f"{S}/cart/items/b", headers=h)
    cleared = await api.delete(f"{S}/cart", headers=h)
    missing = await api.delete(f"{S}/cart/items/b", headers=h)
    assert ("12.5", "10.0", {"removed": 1}, 404) == (
        patched.json()["total"],
        removed.json()["total"],
        cleared.json(),
        missing.status_code,
    )


async def test_preferences_over_http(api: httpx.AsyncClient, keys: Keys) -> None:
    """PATCH merges, PUT replaces, DELETE removes a key; a non-object body is 422."""
    await post_messages(api, keys.secret, "hi")
    h = bearer(keys.secret)
    await api.put(f"{S}/preferences", json={"budget_range": "500-1000", "x": 1}, headers=h)
    await api.patch(f"{S}/preferences", json={"preferred_brands": ["Apple"], "x": None}, headers=h)
    deleted = await api.delete(f"{S}/preferences/budget_range", headers=h)
    bad = await api.patch(f"{S}/preferences", json=[1, 2], headers=h)
    assert {"preferences": {"preferred_brands": ["Apple"]}} == deleted.json()
    assert 422 == bad.status_code


async def test_state_scopes_over_http(api: httpx.AsyncClient, keys: Keys, clock: FakeClock) -> None:
    """Session, user and app state have their routes; a key's TTL hides it when it passes."""
    await api.post(
        f"{S}/messages?user_id=u1",
        json={"role": "user", "content": "hi"},
        headers=bearer(keys.secret),
    )
    h = bearer(keys.secret)
    await api.put(f"{S}/state/step", json={"value": 2, "ttl_s": 30}, headers=h)
    await api.put(f"{S}/state/lang?scope=user", json={"value": "fr"}, headers=h)
    await api.put("/v1/state/banner", json={"value": {"on": True}}, headers=h)
    user = await api.get("/v1/users/u1/state/lang", headers=h)
    app = await api.get("/v1/state/banner", headers=h)
    step = await api.get(f"{S}/state/step", headers=h)
    clock.advance(30)
    gone = await api.get(f"{S}/state/step", headers=h)
    assert ("fr", {"on": True}, 2, 404) == (
        user.json()["value"],
        app.json()["value"],
        step.json()["value"],
        gone.status_code,
    )


async def test_response_cache_over_http(api: httpx.AsyncClient, keys: Keys) -> None:
    """The session cache answers a normalized prompt and reports hits and misses."""
    await post_messages(api, keys.secret, "hi")
    h = bearer(keys.secret)
    await api.put(f"{S}/cache", json={"prompt": "Best Phone?", "response": "This one."}, headers=h)
    hit = await api.post(f"{S}/cache/lookup", json={"prompt": " best  phone? "}, headers=h)
    miss = await api.post("/v1/cache/lookup", json={"prompt": "best phone?"}, headers=h)
    stats = await api.get(f"{S}/cache/stats", headers=h)
    assert (True, "This one.", False) == (
        hit.json()["hit"],
        hit.json()["entry"]["response"],
        miss.json()["hit"],
    )
    assert (1, 0) == (stats.json()["hits"], stats.json()["misses"])


async def test_info_and_conversations(api: httpx.AsyncClient, keys: Keys) -> None:
    """Info reports counts by role and topics; the user's conversations list titles them."""
    h = bearer(keys.secret)
    await api.post(
        f"{S}/messages/batch?user_id=u1",
        json={
            "messages": [
                {"role": "user", "content": "Looking for a smartphone camera"},
                {"role": "assistant", "content": "Sure."},
            ]
        },
        headers=h,
    )
    info = (await api.get(f"{S}/info?topics=1", headers=h)).json()
    convs = (await api.get("/v1/users/u1/conversations", headers=h)).json()
    assert ({"user": 1, "assistant": 1}, [{"word": "camera", "count": 1}]) == (
        info["messages_by_role"],
        info["top_topics"],
    )
    assert [("chat-1", "Looking for a smartphone camera")] == [
        (c["session_id"], c["title"]) for c in convs["items"]
    ]


async def test_share_link_is_public_and_transcript_only(api: httpx.AsyncClient, keys: Keys) -> None:
    """The shared view needs no key and shows only the transcript; revoking makes it 404."""
    h = bearer(keys.secret)
    await post_messages(api, keys.secret, "hello there")
    await api.patch(f"{S}/preferences", json={"secret": "x"}, headers=h)
    share = (await api.post(f"{S}/shares", json={"expires_in_s": 3600}, headers=h)).json()
    view = await api.get(share["path"])
    assert {"messages", "next_cursor", "expires_at"} == set(view.json())
    assert [{"role": "user", "content": "hello there"}] == [
        {k: m[k] for k in ("role", "content")} for m in view.json()["messages"]
    ]
    await api.delete(f"{S}/shares/{share['id']}", headers=h)
    assert 404 == (await api.get(share["path"])).status_code


async def test_batch_with_a_stale_expect_last_is_409(api: httpx.AsyncClient, keys: Keys) -> None:
    """A batch whose expect_last is not the newest message is a 409 stale_history that
    names both ids, and stores nothing."""
    first = (await post_messages(api, keys.secret, "one")).json()["items"][0]["id"]
    await post_messages(api, keys.secret, "two")
    body = {"messages": [{"role": "user", "content": "late"}], "expect_last": first}
    r = await api.post(f"{S}/messages/batch", json=body, headers=bearer(keys.secret))
    listed = await api.get(f"{S}/messages", headers=bearer(keys.secret))
    assert (409, "stale_history", first, ["one", "two"]) == (
        r.status_code,
        r.json()["error"]["code"],
        r.json()["error"]["details"]["expected_last"],
        [m["content"] for m in listed.json()["items"]],
    )
