"""Finding work sessions: full text, filters, sorting, pagination and membership."""

from __future__ import annotations

import httpx
from sqlalchemy import Connection, text

from sessionhub import Engine, FakeClock
from sessionhub.worker.jobs import purge_deleted_sessions
from tests.conftest import Keys, bearer
from tests.work.conftest import Call, new_session


async def ids(call: Call, user: str = "alice", **params: object) -> list[str]:
    response = await call("GET", "/v1/work/sessions", user=user, params=params)
    assert 200 == response.status_code, response.text
    return [item["name"] for item in response.json()["items"]]


async def test_full_text_finds_name_description_goals_and_comments(call: Call) -> None:
    """A word found in the name, the description, a goal or a comment finds its session; every word must match."""
    a = await new_session(call, name="Payment retries", description="Stripe webhooks time out")
    b = await new_session(call, name="Onboarding")
    await call("POST", f"/v1/work/sessions/{b['id']}/goals", json={"title": "Translate emails"})
    await call(
        "POST", f"/v1/work/sessions/{a['id']}/comments", json={"body": "see the grafana board"}
    )
    assert ["Payment retries"] == await ids(call, q="payment")
    assert ["Payment retries"] == await ids(call, q="webhooks")
    assert ["Onboarding"] == await ids(call, q="translate")
    assert ["Payment retries"] == await ids(call, q="grafana")
    assert ["Payment retries"] == await ids(call, q="stri")  # a prefix matches
    assert [] == await ids(call, q="payment translate")


async def test_search_follows_edits_and_deletes(call: Call) -> None:
    """Renaming a session and deleting a comment change what finds it."""
    work = await new_session(call, name="Alpha")
    base = f"/v1/work/sessions/{work['id']}"
    comment = (await call("POST", f"{base}/comments", json={"body": "zebra"})).json()
    await call("PATCH", base, json={"name": "Beta"})
    assert ([], ["Beta"]) == (await ids(call, q="alpha"), await ids(call, q="beta"))
    await call("DELETE", f"{base}/comments/{comment['id']}")
    assert [] == await ids(call, q="zebra")


async def test_query_syntax_is_never_interpreted(call: Call) -> None:
    """Quotes, operators and stray punctuation in q are plain words: no error, no match-all."""
    await new_session(call, name="Release notes")
    for q in ('"', "NOT release", "release*", "a:b (c", "-", "&|!"):
        response = await call("GET", "/v1/work/sessions", params={"q": q})
        assert 200 == response.status_code, (q, response.text)
    assert ["Release notes"] == await ids(call, q='"release"')


async def test_only_members_find_a_session(call: Call) -> None:
    """Another user of the app finds nothing until made a member."""
    work = await new_session(call, name="Secret plan")
    assert [] == await ids(call, user="bob", q="secret")
    await call(
        "POST", f"/v1/work/sessions/{work['id']}/members", json={"user_id": "bob", "role": "viewer"}
    )
    assert ["Secret plan"] == await ids(call, user="bob", q="secret")


async def test_filters(call: Call, clock: FakeClock) -> None:
    """Status, priority, type, template, owner, collaborator and date range each narrow the list."""
    first = await new_session(call, name="one", priority="high", type="bug_fix")
    clock.advance(3600)
    second = await new_session(call, name="two", template_id="tpl_research")
    await call("POST", f"/v1/work/sessions/{second['id']}/members", json={"user_id": "bob"})
    await call("POST", f"/v1/work/sessions/{first['id']}/transition", json={"to": "active"})
    bobs = await new_session(call, user="bob", name="three")
    await call(
        "POST",
        f"/v1/work/sessions/{bobs['id']}/members",
        user="bob",
        json={"user_id": "alice", "role": "viewer"},
    )
    assert ["one"] == await ids(call, status="active")
    assert ["one"] == await ids(call, priority="high")
    assert ["one"] == await ids(call, type="bug_fix")
    assert ["two"] == await ids(call, template_id="tpl_research")
    assert ["three"] == await ids(call, owner="bob")
    assert ["two"] == await ids(call, collaborator="bob")
    assert ["one"] == await ids(call, created_to="2026-01-01T00:30:00Z")
    assert ["three", "two"] == await ids(call, created_from="2026-01-01T00:30:00Z")


async def test_archived_sessions_show_only_when_asked(call: Call) -> None:
    """An archived session leaves the default list and is found with status=archived."""
    work = await new_session(call, name="old")
    await call("DELETE", f"/v1/work/sessions/{work['id']}")
    assert ([], ["old"]) == (await ids(call), await ids(call, status="archived"))


async def test_sorting_and_cursor_pages(call: Call, clock: FakeClock) -> None:
    """Sorted by priority, name or time, pages of two walk every session exactly once."""
    for name, priority in (
        ("c", "low"),
        ("a", "urgent"),
        ("d", "medium"),
        ("b", "high"),
        ("e", "low"),
    ):
        await new_session(call, name=name, priority=priority)
        clock.advance(1)
    assert ["e", "b", "d", "a", "c"] == await ids(call)
    assert ["c", "a", "d", "b", "e"] == await ids(call, sort="created_at")
    # Ties follow the sort direction: the newer of two low ones comes first.
    assert ["a", "b", "d", "e", "c"] == await ids(call, sort="-priority")
    for sort in ("name", "-priority", "-created_at", "updated_at"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await call("GET", "/v1/work/sessions", params=params)).json()
            seen += [item["name"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == ["a", "b", "c", "d", "e"], sort
        assert len(seen) == 5
    assert ["a", "b", "c", "d", "e"] == await ids(call, sort="name")


async def test_a_foreign_cursor_is_a_422(call: Call) -> None:
    """A cursor made for another sort (or garbage) is refused with 422, not a 500."""
    for cursor in ("garbage!", "Wzk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5LDFd", "WyJhIiwxXQ"):
        response = await call(
            "GET", "/v1/work/sessions", params={"cursor": cursor, "sort": "priority"}
        )
        assert 422 == response.status_code, cursor


def _indexed(conn: Connection, word: str) -> int:
    """How many sessions the search index holds for ``word`` (FTS5 or tsvector)."""
    if conn.dialect.name == "sqlite":
        query = "SELECT count(*) FROM work_fts WHERE work_fts MATCH :word"
    else:
        query = "SELECT count(*) FROM work_sessions WHERE search_tsv @@ to_tsquery('simple', :word)"
    return int(conn.execute(text(query), {"word": word}).scalar_one())


async def test_no_text_outlives_a_session_deleted_elsewhere(
    call: Call, api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """A work session deleted through /v1/sessions and purged by the worker leaves nothing in
    the search index (the FTS5 table follows its rows by trigger)."""
    work = await new_session(call, name="Quokka migration")
    assert 1 == await engine.db.read(_indexed, "quokka")
    await api.delete(f"/v1/sessions/{work['id']}", headers=bearer(keys.secret))
    await purge_deleted_sessions(engine)
    assert (0, []) == (await engine.db.read(_indexed, "quokka"), await ids(call, q="quokka"))
