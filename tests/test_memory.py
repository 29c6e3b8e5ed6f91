"""Conversation memory through the Engine: append, read, budgets, pop, clear, TTL, conversations."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from sessionhub import Engine, FakeClock, NotFound, SessionEnded, Settings
from sessionhub.core.memory import NO_MESSAGES
from sessionhub.crypto import new_key
from sessionhub.errors import Conflict, InvalidInput
from sessionhub.models import AppSettings, Budget, MessageIn, SessionCreate
from sessionhub.storage.schema import messages
from sessionhub.worker import Worker


def msg(content: str, role: str = "user", **extra: object) -> MessageIn:
    return MessageIn.model_validate({"role": role, "content": content, **extra})


@pytest.fixture
async def app_id(engine: Engine) -> str:
    return (await engine.apps.create("chat")).id


async def contents(engine: Engine, app_id: str, session_id: str, limit: int = 500) -> list[str]:
    page = await engine.memory.last(app_id, session_id, limit)
    return [m.content for m in page.items]


async def test_append_creates_missing_session_when_asked(engine: Engine, app_id: str) -> None:
    """A message for an unknown caller-chosen id creates a conversation session owned by the user."""
    await engine.memory.add(app_id, "chat-1", msg("hi"), create=True, user_id="u1")
    session = await engine.sessions.get(app_id, "chat-1")
    assert ("conversation", "u1") == (session.kind, session.user_id)


async def test_append_to_missing_session_without_create_is_404(engine: Engine, app_id: str) -> None:
    """Without get-or-create, a message for an unknown session is a NotFound."""
    with pytest.raises(NotFound):
        await engine.memory.add(app_id, "nope", msg("hi"))


async def test_append_to_ended_session_is_refused(engine: Engine, app_id: str) -> None:
    """Nothing revives an ended session: appending to one is SessionEnded."""
    await engine.memory.add(app_id, "c", msg("hi"), create=True)
    await engine.sessions.end(app_id, "c")
    with pytest.raises(SessionEnded):
        await engine.memory.add(app_id, "c", msg("again"))


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (MessageIn(role="user", content="a\x00b"), "messages.1.content"),
        (MessageIn(role="user", content="ok", metadata={"n": 2**70}), "messages.1.metadata"),
    ],
    ids=["nul-content", "huge-integer"],
)
async def test_an_unstorable_message_refuses_the_batch_and_names_it(
    engine: Engine, app_id: str, bad: MessageIn, field: str
) -> None:
    """What no backend can store is a 422 naming the message and field; nothing is written."""
    with pytest.raises(InvalidInput) as refused:
        await engine.memory.append(app_id, "c", [msg("fine"), bad], create=True)
    assert field == refused.value.details["field"]
    with pytest.raises(NotFound):
        await engine.memory.last(app_id, "c", 5)


async def test_messages_read_back_in_append_order(engine: Engine, app_id: str) -> None:
    """Single and batched appends read back oldest first in the order they were sent."""
    await engine.memory.add(app_id, "c", msg("one"), create=True)
    await engine.memory.append(app_id, "c", [msg("two", "assistant"), msg("three")])
    assert ["one", "two", "three"] == await contents(engine, app_id, "c")


async def test_client_id_makes_append_idempotent(engine: Engine, app_id: str) -> None:
    """Sending a message with the same client id again returns the stored one and adds nothing."""
    first = await engine.memory.add(app_id, "c", msg("hi", client_id="m1"), create=True)
    again = await engine.memory.append(
        app_id, "c", [msg("hi (retry)", client_id="m1"), msg("new", client_id="m2")]
    )
    assert [first.id, "hi"] == [again[0].id, again[0].content]
    assert ["hi", "new"] == await contents(engine, app_id, "c")


async def test_client_id_repeated_within_one_batch_is_stored_once(
    engine: Engine, app_id: str
) -> None:
    """A batch that repeats a client id stores the first and returns it for both."""
    stored = await engine.memory.append(
        app_id, "c", [msg("a", client_id="x"), msg("b", client_id="x")], create=True
    )
    assert stored[0].id == stored[1].id
    assert ["a"] == await contents(engine, app_id, "c")


async def test_last_n_and_backward_paging(engine: Engine, app_id: str) -> None:
    """The last N come oldest first, and the cursor pages back to the start without overlap."""
    await engine.memory.append(app_id, "c", [msg(str(i)) for i in range(7)], create=True)
    first = await engine.memory.page(app_id, "c", limit=3)
    second = await engine.memory.page(app_id, "c", limit=3, cursor=first.next_cursor)
    third = await engine.memory.page(app_id, "c", limit=3, cursor=second.next_cursor)
    assert ["4", "5", "6"] == [m.content for m in first.items]
    assert ["1", "2", "3"] == [m.content for m in second.items]
    assert (["0"], None) == ([m.content for m in third.items], third.next_cursor)


async def test_forward_paging(engine: Engine, app_id: str) -> None:
    """Forward paging starts at the oldest message and its cursor moves to newer ones."""
    await engine.memory.append(app_id, "c", [msg(str(i)) for i in range(5)], create=True)
    first = await engine.memory.page(app_id, "c", limit=2, direction="forward")
    second = await engine.memory.page(app_id, "c", limit=2, cursor=first.next_cursor)
    third = await engine.memory.page(app_id, "c", limit=2, cursor=second.next_cursor)
    assert [["0", "1"], ["2", "3"], ["4"]] == [
        [m.content for m in p.items] for p in (first, second, third)
    ]
    assert third.next_cursor is None


async def test_damaged_cursor_is_invalid_input(engine: Engine, app_id: str) -> None:
    """A cursor this API did not give out is a 422, not a crash."""
    await engine.memory.add(app_id, "c", msg("hi"), create=True)
    with pytest.raises(InvalidInput):
        await engine.memory.page(app_id, "c", cursor="not-a-cursor")


async def test_budget_keeps_system_messages_and_newest_that_fit(
    engine: Engine, app_id: str
) -> None:
    """A character budget keeps every system message plus the newest messages that fit, in order."""
    await engine.memory.append(
        app_id,
        "c",
        [msg("sys!", "system"), msg("aaaaaaaaaa"), msg("bbbbb", "assistant"), msg("ccccc")],
        create=True,
    )
    window = await engine.memory.within_budget(app_id, "c", Budget(max_chars=15))
    assert ["sys!", "bbbbb", "ccccc"] == [m.content for m in window.items]


async def test_token_budget_uses_given_token_counts(engine: Engine, app_id: str) -> None:
    """A token budget counts each message's given tokens (or the chars/4 estimate)."""
    await engine.memory.append(
        app_id, "c", [msg("x", tokens=50), msg("y", tokens=30), msg("z" * 80)], create=True
    )
    window = await engine.memory.within_budget(app_id, "c", Budget(max_tokens=50))
    assert ["y", "z" * 80] == [m.content for m in window.items]


async def test_budget_needs_exactly_one_unit(engine: Engine, app_id: str) -> None:
    """Asking for a budget in both characters and tokens is invalid input."""
    await engine.memory.add(app_id, "c", msg("hi"), create=True)
    with pytest.raises(InvalidInput):
        await engine.memory.within_budget(app_id, "c", Budget(max_chars=5, max_tokens=5))


async def test_count_by_role(engine: Engine, app_id: str) -> None:
    """The count gives the total and the number of messages of each role."""
    roles = ["system", "user", "assistant", "user", "tool"]
    await engine.memory.append(app_id, "c", [msg("m", r) for r in roles], create=True)
    count = await engine.memory.count(app_id, "c")
    assert (5, {"system": 1, "user": 2, "assistant": 1, "tool": 1}) == (count.count, count.by_role)


async def test_pop_removes_newest(engine: Engine, app_id: str) -> None:
    """Pop returns the newest message and removes it; on an empty history it returns None."""
    await engine.memory.append(app_id, "c", [msg("a"), msg("b")], create=True)
    popped = await engine.memory.pop(app_id, "c")
    assert "b" == (popped.content if popped else None)
    assert ["a"] == await contents(engine, app_id, "c")
    await engine.memory.pop(app_id, "c")
    assert await engine.memory.pop(app_id, "c") is None


async def test_clear_removes_history_but_keeps_session(engine: Engine, app_id: str) -> None:
    """Clearing removes every message and reports how many; the session stays."""
    await engine.memory.append(app_id, "c", [msg("a"), msg("b")], create=True)
    assert 2 == await engine.memory.clear(app_id, "c")
    assert [] == await contents(engine, app_id, "c")
    assert "active" == (await engine.sessions.get(app_id, "c")).status


async def test_history_expires_after_inactivity_at_once(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """Past the history TTL every read sees an empty history before the worker runs."""
    await engine.memory.append(app_id, "c", [msg("a"), msg("b")], create=True)
    clock.advance(7199)
    assert ["a", "b"] == await contents(engine, app_id, "c")
    clock.advance(1)
    assert [] == await contents(engine, app_id, "c")
    assert 0 == (await engine.memory.count(app_id, "c")).count
    assert [] == (await engine.memory.within_budget(app_id, "c", Budget(max_chars=99))).items


async def test_new_message_extends_history_ttl(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """Each message restarts the inactivity TTL of the whole history."""
    await engine.memory.add(app_id, "c", msg("a"), create=True)
    clock.advance(7000)
    await engine.memory.add(app_id, "c", msg("b"))
    clock.advance(7000)
    assert ["a", "b"] == await contents(engine, app_id, "c")


async def test_message_after_expiry_starts_new_history(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """After the history expired, the next message starts a new history without the old ones."""
    await engine.memory.add(app_id, "c", msg("old"), create=True)
    clock.advance(7200)
    await engine.memory.add(app_id, "c", msg("new"))
    assert ["new"] == await contents(engine, app_id, "c")


async def test_conversation_session_outlives_its_history(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """A conversation session has no idle limit: it lives on after its history (default 24 h)."""
    await engine.memory.add(app_id, "c", msg("a"), create=True)
    clock.advance(3 * 3600)
    assert "active" == (await engine.sessions.get(app_id, "c")).status
    clock.advance(21 * 3600)
    assert "ended" == (await engine.sessions.get(app_id, "c")).status


async def test_history_ttl_is_an_app_setting(engine: Engine, clock: FakeClock) -> None:
    """An app's history_ttl_s replaces the 2 h default."""
    app = await engine.apps.create("short", AppSettings(history_ttl_s=60))
    await engine.memory.add(app.id, "c", msg("a"), create=True)
    clock.advance(60)
    assert [] == await contents(engine, app.id, "c")


async def test_worker_removes_expired_histories(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """The worker deletes the messages of expired histories, and only those."""
    await engine.memory.add(app_id, "old", msg("a"), create=True)
    clock.advance(7200)
    await engine.memory.add(app_id, "fresh", msg("b"), create=True)
    results = await Worker(engine).run_once()
    assert 1 == results["expire_histories"]
    assert ["b"] == await contents(engine, app_id, "fresh")
    await engine.memory.add(app_id, "old", msg("c"))
    assert ["c"] == await contents(engine, app_id, "old")


async def test_user_conversations_titled_by_first_user_message(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """A user's conversations list newest first, each titled by its first user message."""
    await engine.memory.append(
        app_id,
        "c1",
        [msg("You help.", "system"), msg("Phones under 500?")],
        create=True,
        user_id="u",
    )
    clock.advance(10)
    await engine.memory.add(app_id, "c2", msg("x" * 150), create=True, user_id="u")
    await engine.memory.add(app_id, "other", msg("not mine"), create=True, user_id="v")
    await engine.sessions.create(app_id, SessionCreate(id="silent", user_id="u"))
    page = await engine.memory.conversations(app_id, "u")
    assert [("c2", "x" * 100, 1), ("c1", "Phones under 500?", 2)] == [
        (c.session_id, c.title, c.message_count) for c in page.items
    ]


async def test_user_conversations_page_with_cursor(
    engine: Engine, app_id: str, clock: FakeClock
) -> None:
    """The conversations list pages with a cursor, newest first."""
    for i in range(3):
        await engine.memory.add(app_id, f"c{i}", msg(f"q{i}"), create=True, user_id="u")
        clock.advance(1)
    first = await engine.memory.conversations(app_id, "u", limit=2)
    second = await engine.memory.conversations(app_id, "u", limit=2, cursor=first.next_cursor)
    assert (["c2", "c1"], ["c0"]) == (
        [c.session_id for c in first.items],
        [c.session_id for c in second.items],
    )


async def test_deleted_session_memory_is_purged(engine: Engine, app_id: str) -> None:
    """Deleting a session frees its id; the worker then removes its messages with it."""
    await engine.memory.add(app_id, "c", msg("secret"), create=True)
    await engine.sessions.delete(app_id, "c")
    await Worker(engine).run_once()
    await engine.memory.add(app_id, "c", msg("fresh"), create=True)
    assert ["fresh"] == await contents(engine, app_id, "c")


async def test_expect_last_appends_only_onto_the_history_the_caller_saw(
    engine: Engine, app_id: str
) -> None:
    """With expect_last, an append lands only when the newest message is the one expected;
    otherwise it is a 409 stale_history and nothing is stored."""
    memory = engine.memory
    first = await memory.append(app_id, "c", [msg("one")], create=True, expect_last=NO_MESSAGES)
    await memory.append(app_id, "c", [msg("two")], expect_last=first[0].id)
    with pytest.raises(Conflict) as stale:
        await memory.append(app_id, "c", [msg("late")], expect_last=first[0].id)
    assert ("stale_history", ["one", "two"]) == (
        stale.value.code,
        await contents(engine, app_id, "c"),
    )


async def test_concurrent_appends_expecting_the_same_last_store_one(
    engine: Engine, app_id: str
) -> None:
    """Several appends expecting the same newest message at once: exactly one is stored."""
    first = await engine.memory.add(app_id, "c", msg("one"), create=True)
    results = await asyncio.gather(
        *(
            engine.memory.append(app_id, "c", [msg(f"reply {i}")], expect_last=first.id)
            for i in range(4)
        ),
        return_exceptions=True,
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, Conflict) and r.code == "stale_history"]
    assert (1, 3, 2) == (len(stored), len(refused), len(await contents(engine, app_id, "c")))


async def test_records_read_the_newest_or_the_whole_history(engine: Engine, app_id: str) -> None:
    """records() gives the newest N (or all) messages oldest first as plain tuples, with
    decoded metadata; an unknown session is a 404."""
    await engine.memory.append(
        app_id, "c", [msg("a"), msg("b", metadata={"k": 1}), msg("c", "assistant")], create=True
    )
    newest = await engine.memory.records(app_id, "c", 2)
    everything = await engine.memory.records(app_id, "c")
    assert (
        [("b", "user", {"k": 1}), ("c", "assistant", {})],
        ["a", "b", "c"],
    ) == (
        [(r.content, r.role, r.metadata) for r in newest],
        [r.content for r in everything],
    )
    with pytest.raises(NotFound):
        await engine.memory.records(app_id, "nope")


async def test_records_and_batches_are_sealed_at_rest_and_read_back_whole(
    settings: Settings, clock: FakeClock
) -> None:
    """With encryption at rest, batched and single appends store no plaintext, and records()
    read the contents back as written."""
    engine = await Engine(settings.replace(encryption_key=new_key()), clock=clock).start(
        migrate=False
    )
    try:
        app_id = (await engine.apps.create("sealed")).id
        await engine.memory.append(app_id, "c", [msg("secret one"), msg("secret two")], create=True)
        await engine.memory.add(app_id, "c", msg("secret three"))
        stored = await engine.db.read(
            lambda conn: list(conn.execute(select(messages.c.content)).scalars())
        )
        records = await engine.memory.records(app_id, "c")
    finally:
        await engine.close()
    assert (False, ["secret one", "secret two", "secret three"]) == (
        any("secret" in text for text in stored),
        [r.content for r in records],
    )
