"""Event ingestion: per-event checks, idempotency, sessionization, counters, timelines."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from sessionhub import Engine, FakeClock, Settings
from sessionhub.api import create_app
from sessionhub.clock import from_ms
from sessionhub.enrich.client import ClientInfo
from sessionhub.models import Identify, SessionCreate
from tests.conftest import Keys, bearer

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def ev(**fields: Any) -> dict[str, Any]:
    """An event with a fresh client id."""
    return {"id": str(uuid.uuid4()), **fields}


async def test_batch_keeps_good_events_and_reports_bad_ones_by_index(
    engine: Engine, keys: Keys
) -> None:
    """A batch with bad events stores the good ones and names each rejected one's index and code."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    result = await engine.events.ingest(
        keys.app_id,
        [
            ev(session_id=session.id, type="page_view", url="https://shop.example/a"),
            ev(session_id=session.id, type="no spaces allowed?!"),
            "not an object",
            ev(type="page_view"),
            ev(session_id="ses_missing", type="page_view"),
            ev(session_id=session.id, type="signup"),
        ],
    )
    assert 2 == result.accepted
    assert [(1, "invalid_input"), (2, "invalid_input"), (3, "invalid_input"), (4, "not_found")] == [
        (r.index, r.code) for r in result.rejected
    ]
    assert "events.1.type" in result.rejected[0].message
    assert 2 == (await engine.sessions.get(keys.app_id, session.id)).events


async def test_resent_batch_is_stored_once(engine: Engine, keys: Keys) -> None:
    """Sending the same batch twice stores each event once and counts it once."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    batch = [
        ev(session_id=session.id, type="page_view", url=f"https://s.example/{i}") for i in range(5)
    ]
    first = await engine.events.ingest(keys.app_id, batch)
    again = await engine.events.ingest(keys.app_id, batch + batch[:2])
    assert (5, 0) == (first.accepted, first.duplicates)
    assert (0, 7) == (again.accepted, again.duplicates)
    stored = await engine.sessions.get(keys.app_id, session.id)
    assert (5, 5) == (stored.events, stored.page_views)
    assert 5 == len((await engine.events.timeline(keys.app_id, session.id)).items)


async def test_resends_among_new_events_leave_no_trace_of_a_first_attempt(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A batch whose last events were stored before: every new one is stored once and counted
    once, and a device's session starts once, however the batch's write goes about it."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    t0 = clock.now_ms() - 1000
    sent = [
        ev(session_id=session.id, type="page_view", timestamp=_iso(t0 + 500 + i)) for i in range(3)
    ]
    untimed = [ev(session_id=session.id, type="action") for _ in range(2)]
    await engine.events.ingest(keys.app_id, sent + untimed)
    clock.advance(1)
    fresh = [ev(session_id=session.id, type="action", timestamp=_iso(t0 + i)) for i in range(96)]
    newcomer = ev(device_id="d-new", type="page_view", timestamp=_iso(t0))
    # 102 events, stored in time order: the resends are the last.
    result = await engine.events.ingest(keys.app_id, [newcomer, *fresh, *sent, *untimed])
    assert (97, 5) == (result.accepted, result.duplicates)
    stored = await engine.sessions.get(keys.app_id, session.id)
    assert (101, 3) == (stored.events, stored.page_views)

    def device_sessions(conn: Any) -> list[Any]:
        query = text("SELECT id, event_count FROM sessions WHERE device_id = 'd-new'")
        return [tuple(row) for row in conn.execute(query)]

    assert [(result.sessions[0], 1)] == await engine.db.read(device_sessions)
    counted = await engine.db.read(
        lambda conn: conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
    )
    assert 102 == counted


async def test_an_event_twice_in_one_batch_is_stored_once(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Twice in a batch of which nothing was stored before: stored and counted once."""
    timed = ev(device_id="d-twice", type="page_view", timestamp=_iso(clock.now_ms() - 10))
    untimed = ev(device_id="d-twice", type="action")
    result = await engine.events.ingest(keys.app_id, [timed, untimed, timed, untimed])
    assert (2, 2) == (result.accepted, result.duplicates)
    session = await engine.sessions.get(keys.app_id, result.sessions[0])
    assert (2, 1) == (session.events, session.page_views)


async def test_an_event_resent_later_without_a_timestamp_is_stored_once(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """An id sent without a time gets the server's time; a resend minutes later is known by its id."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    batch = [ev(session_id=session.id, type="action") for _ in range(3)]
    first = await engine.events.ingest(keys.app_id, batch)
    clock.advance(120)
    again = await engine.events.ingest(
        keys.app_id, [*batch[1:], ev(session_id=session.id, type="x")]
    )
    assert (3, 0) == (first.accepted, first.duplicates)
    assert (1, 2) == (again.accepted, again.duplicates)
    assert 4 == (await engine.sessions.get(keys.app_id, session.id)).events


async def test_an_event_is_its_id_and_timestamp(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A resend carries the same id and timestamp; the same id at another time is another event."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    sent = ev(
        session_id=session.id, type="page_view", timestamp=from_ms(clock.now_ms()).isoformat()
    )
    later = {**sent, "timestamp": from_ms(clock.now_ms() + 1).isoformat()}
    first = await engine.events.ingest(keys.app_id, [sent])
    clock.advance(120)
    again = await engine.events.ingest(keys.app_id, [sent, later, later])
    assert (1, 0) == (first.accepted, first.duplicates)
    assert (1, 2) == (again.accepted, again.duplicates)
    timeline = await engine.events.timeline(keys.app_id, session.id)
    assert [sent["id"]] * 2 == [item.id for item in timeline.items]


async def test_counters_exit_page_last_action_and_gaps(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """Each accepted event updates its session's counters, exit page, last action and the gap it records."""
    session, _ = await engine.sessions.create(
        keys.app_id, SessionCreate(entry_page="https://s.example/")
    )
    t0 = clock.now_ms()
    batch = [
        ev(session_id=session.id, type="page_view", url="https://s.example/", timestamp=_iso(t0)),
        ev(
            session_id=session.id,
            type="action",
            properties={"name": "add_to_cart"},
            timestamp=_iso(t0 + 4000),
        ),
        ev(session_id=session.id, type="page_view", path="/cart", timestamp=_iso(t0 + 10_000)),
        ev(
            session_id=session.id,
            type="error",
            properties={"message": "boom"},
            timestamp=_iso(t0 + 11_000),
        ),
        ev(session_id=session.id, type="conversion", timestamp=_iso(t0 + 20_000)),
        ev(session_id=session.id, type="workflow_start", timestamp=_iso(t0 + 21_000)),
    ]
    clock.advance(30)
    await engine.events.ingest(keys.app_id, batch)
    got = await engine.sessions.get(keys.app_id, session.id)
    assert (2, 6, 1, 1, 1, 1, 0) == (
        got.page_views,
        got.events,
        got.actions,
        got.errors,
        got.conversions,
        got.workflow_starts,
        got.workflow_completes,
    )
    assert "/cart" == got.exit_page
    assert "workflow_start" == got.last_action
    assert 21.0 == got.duration_s
    assert 21.0 == got.engaged_s
    gaps = [
        e.seconds_since_previous
        for e in (await engine.events.timeline(keys.app_id, session.id)).items
    ]
    assert [None, 4.0, 6.0, 1.0, 9.0, 1.0] == gaps


async def test_event_for_ended_session_is_rejected_with_session_ended(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """An event for a session past its idle timeout is rejected with code session_ended."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    clock.advance(1801)
    result = await engine.events.ingest(keys.app_id, [ev(session_id=session.id, type="page_view")])
    assert ["session_ended"] == [r.code for r in result.rejected]
    assert 0 == (await engine.sessions.get(keys.app_id, session.id)).events


async def test_device_events_are_sessionized(engine: Engine, keys: Keys, clock: FakeClock) -> None:
    """Events with only a device id join its running session, and start a new one after the idle timeout."""
    client = ClientInfo(ip="81.2.69.160", user_agent=CHROME)
    first = await engine.events.ingest(
        keys.app_id,
        [ev(device_id="d1", type="page_view", url="https://s.example/landing?utm_source=news")],
        client=client,
    )
    clock.advance(600)
    second = await engine.events.ingest(
        keys.app_id, [ev(device_id="d1", type="page_view", path="/b")]
    )
    clock.advance(1801)
    third = await engine.events.ingest(
        keys.app_id, [ev(device_id="d1", type="page_view", path="/c")]
    )
    assert first.sessions == second.sessions
    assert first.sessions != third.sessions
    started = await engine.sessions.get(keys.app_id, first.sessions[0])
    assert ("/landing", "/b", 2) == (started.entry_page, started.exit_page, started.page_views)
    assert ("news", "GB", "desktop", "Chrome") == (
        started.source,
        started.location.country,
        started.device.type,
        started.device.browser,
    )
    assert "ended" == started.status


async def test_sessionized_events_of_an_identified_device_belong_to_the_user(
    engine: Engine, keys: Keys
) -> None:
    """A new session started by a linked device's events carries the user, so user history includes it."""
    await engine.sessions.identify(keys.app_id, Identify(device_id="d9", user_id="alice"))
    result = await engine.events.ingest(
        keys.app_id, [ev(device_id="d9", type="page_view", path="/x")]
    )
    session = await engine.sessions.get(keys.app_id, result.sessions[0])
    assert "alice" == session.user_id
    events = await engine.events.for_user(keys.app_id, "alice")
    assert ["/x"] == [e.path for e in events.items]


async def test_midnight_split_when_enabled(engine: Engine, keys: Keys, clock: FakeClock) -> None:
    """With the midnight rule on, a device's event after midnight (app timezone) starts a new session."""
    await engine.apps.update(
        keys.app_id, settings={"split_sessions_at_midnight": True, "timezone": "Europe/Berlin"}
    )
    clock.set(from_ms(clock.now_ms()).replace(hour=22, minute=50))  # 23:50 in Berlin (UTC+1)
    before = await engine.events.ingest(
        keys.app_id, [ev(device_id="d2", type="page_view", path="/a")]
    )
    clock.advance(20 * 60)  # 00:10 in Berlin, well within the idle timeout
    after = await engine.events.ingest(
        keys.app_id, [ev(device_id="d2", type="page_view", path="/b")]
    )
    assert before.sessions != after.sessions
    old = await engine.sessions.get(keys.app_id, before.sessions[0])
    assert ("ended", "timeout") == (old.status, old.end_reason)


async def test_campaign_change_split_when_enabled(engine: Engine, keys: Keys) -> None:
    """With the campaign rule on, a device's event with another utm_campaign starts a new session."""
    await engine.apps.update(keys.app_id, settings={"split_on_campaign_change": True})
    a = await engine.events.ingest(
        keys.app_id,
        [ev(device_id="d3", type="page_view", url="https://s.example/?utm_campaign=spring")],
    )
    same = await engine.events.ingest(
        keys.app_id, [ev(device_id="d3", type="page_view", url="https://s.example/p")]
    )
    b = await engine.events.ingest(
        keys.app_id,
        [ev(device_id="d3", type="page_view", url="https://s.example/?utm_campaign=summer")],
    )
    assert a.sessions == same.sessions
    assert a.sessions != b.sessions


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(timedelta(minutes=6), "invalid_timestamp"), (timedelta(days=-4), "invalid_timestamp")],
)
async def test_timestamps_out_of_range_are_rejected(
    engine: Engine, keys: Keys, clock: FakeClock, offset: timedelta, expected: str
) -> None:
    """Events more than 5 minutes in the future or older than the late-arrival window are rejected."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    stamp = _iso(clock.now_ms() + int(offset.total_seconds() * 1000))
    result = await engine.events.ingest(
        keys.app_id, [ev(session_id=session.id, type="action", timestamp=stamp)]
    )
    assert [expected] == [r.code for r in result.rejected]


async def test_oversized_and_too_deep_properties_are_rejected(engine: Engine, keys: Keys) -> None:
    """Properties over 8 KB or nested deeper than 8 levels are rejected, naming the field."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(12):
        node["a"] = {}
        node = node["a"]
    result = await engine.events.ingest(
        keys.app_id,
        [
            ev(session_id=session.id, type="action", properties={"blob": "x" * 9000}),
            ev(session_id=session.id, type="action", properties=deep),
        ],
    )
    assert [("payload_too_large", "properties"), ("invalid_input", "properties")] == [
        (r.code, r.details["field"]) for r in result.rejected
    ]


async def test_properties_that_are_not_a_json_object_are_rejected_alone(
    engine: Engine, keys: Keys
) -> None:
    """In-process callers can pass what JSON cannot hold; each such event is rejected, naming
    the field, and the rest are stored."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    odd: list[Any] = [[1, 2], None, {1: "a"}, {"tags": {"a", "b"}}]
    result = await engine.events.ingest(
        keys.app_id,
        [ev(session_id=session.id, type="action", properties=p) for p in odd]
        + [ev(session_id=session.id, type="action", properties={"ok": True})],
    )
    assert 1 == result.accepted
    assert [(i, "invalid_input", "properties") for i in range(4)] == [
        (r.index, r.code, r.details["field"]) for r in result.rejected
    ]
    assert "(Type is not JSON serializable: set)" in result.rejected[3].message


async def test_deep_values_in_a_large_batch_are_rejected_alone(engine: Engine, keys: Keys) -> None:
    """Nesting past every limit, in batches too large to check at one glance, rejects only its events."""

    def nested(depth: int) -> Any:
        value: Any = 1
        for _ in range(depth):
            value = [value]
        return value

    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())

    def batch(odd: dict[str, Any]) -> list[dict[str, Any]]:
        good = [ev(session_id=session.id, type="action") for _ in range(60)]
        return [*good[:30], ev(session_id=session.id, type="action", **odd), *good[30:]]

    answers = [
        await engine.events.ingest(keys.app_id, batch(odd))
        for odd in (
            {"properties": {"a": nested(150)}},  # every event valid: the one-glance path
            {"properties": {"a": nested(300)}},  # past what the JSON encoder takes
            {"title": nested(150)},  # not a string: the batch is checked event by event
        )
    ]
    assert [60, 60, 60] == [answer.accepted for answer in answers]
    assert [
        [(30, "events[30].properties nests deeper than 8 levels.")],
        [(30, "events[30]: JSON may be nested at most 100 levels deep (at properties.a…)")],
        [(30, "events[30]: JSON may be nested at most 100 levels deep (at title…)")],
    ] == [
        [(r.index, re.sub(r"(\.0)+\)$", "…)", r.message)) for r in answer.rejected]
        for answer in answers
    ]


async def test_bots_are_stored_flagged(engine: Engine, keys: Keys) -> None:
    """A crawler's events are stored, in a session flagged as a bot."""
    bot = ClientInfo(
        user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    )
    result = await engine.events.ingest(
        keys.app_id, [ev(device_id="crawler", type="page_view")], client=bot
    )
    session = await engine.sessions.get(keys.app_id, result.sessions[0])
    assert (True, "bot", 1) == (session.is_bot, session.device.type, session.events)


async def test_timeline_pages_through_events_in_order(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """The timeline returns every event once, in time order, across pages."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    t0 = clock.now_ms()
    stamps = [t0 + i * 1000 for i in (5, 1, 3, 2, 4, 0, 6)]
    await engine.events.ingest(
        keys.app_id, [ev(session_id=session.id, type="action", timestamp=_iso(t)) for t in stamps]
    )
    clock.advance(10)
    seen: list[str] = []
    cursor = None
    while True:
        page = await engine.events.timeline(keys.app_id, session.id, limit=3, cursor=cursor)
        seen += [e.timestamp.isoformat() for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == seen
    assert 7 == len(set(seen))


async def test_raw_ip_is_never_stored(engine: Engine, keys: Keys, database_url: str) -> None:
    """The client IP is used for the country and then dropped: no row holds it."""
    client = ClientInfo(ip="81.2.69.160", user_agent=CHROME)
    await engine.events.ingest(keys.app_id, [ev(device_id="d1", type="page_view")], client=client)
    await engine.sessions.create(keys.app_id, SessionCreate(device_id="d2"), client=client)

    def dump(conn: Any) -> str:
        texts = []
        for table in ("sessions", "events"):
            texts += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
        return "\n".join(texts)

    stored = await engine.db.read(dump)
    assert "GB" in stored
    assert "81.2.69.160" not in stored


# -- over HTTP ------------------------------------------------------------------------------


async def test_publishable_key_posts_events_and_secret_key_reads_timeline(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A publishable key may send events; reading the timeline needs the secret key."""
    created = await api.post("/v1/sessions", json={}, headers=bearer(keys.publishable))
    sid = created.json()["id"]
    sent = await api.post(
        f"/v1/sessions/{sid}/events",
        json={"events": [ev(type="page_view", path="/a"), ev(type="action")]},
        headers=bearer(keys.publishable),
    )
    assert (200, 2) == (sent.status_code, sent.json()["accepted"])
    assert (
        403
        == (
            await api.get(f"/v1/sessions/{sid}/events", headers=bearer(keys.publishable))
        ).status_code
    )
    timeline = await api.get(f"/v1/sessions/{sid}/events", headers=bearer(keys.secret))
    assert ["page_view", "action"] == [e["type"] for e in timeline.json()["items"]]
    assert (
        403
        == (
            await api.post("/v1/events", json={"events": []}, headers=bearer(keys.admin))
        ).status_code
    )


async def test_all_rejected_batch_answers_with_the_error(
    api: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    """When every event is rejected for an ended session, the answer is 409 session_ended."""
    created = await api.post("/v1/sessions", json={}, headers=bearer(keys.publishable))
    sid = created.json()["id"]
    await api.post(
        f"/v1/sessions/{sid}/end", json={"reason": "logout"}, headers=bearer(keys.publishable)
    )
    sent = await api.post(
        f"/v1/sessions/{sid}/events",
        json={"events": [ev(type="page_view")]},
        headers=bearer(keys.publishable),
    )
    assert 409 == sent.status_code
    assert "session_ended" == sent.json()["error"]["code"]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"device_id": "d\x00"}, "device_id"),
        ({"user_id": "u\x00"}, "user_id"),
        ({"url": "https://a.example/\x00"}, "url"),
        ({"path": "/a\x00"}, "path"),
        ({"title": "a\x00b"}, "title"),
        ({"referrer": "https://b.example/\x00"}, "referrer"),
        ({"properties": {"k": "v\x00"}}, "properties.k"),
        ({"properties": {"list": [1, {"n": 2**64}]}}, "properties.list.1.n"),
    ],
)
async def test_what_the_database_cannot_hold_is_rejected_wherever_it_is(
    engine: Engine, keys: Keys, fields: dict[str, Any], where: str
) -> None:
    """A NUL in any free-text field or in the properties, or an integer past 64 bits, rejects
    its event by index and names the place; the valid events of the batch are stored."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    good = [ev(session_id=session.id, type="action") for _ in range(3)]
    bad = ev(type="action", **{"session_id": session.id, **fields})
    result = await engine.events.ingest(keys.app_id, [good[0], bad, *good[1:]])
    assert 3 == result.accepted
    assert [1] == [r.index for r in result.rejected]
    assert result.rejected[0].message.endswith(f"(at {where})"), result.rejected[0].message


async def test_an_unstorable_event_is_rejected_alone(api: httpx.AsyncClient, keys: Keys) -> None:
    """Over HTTP too, an event the database cannot hold (a NUL, a 70-bit integer) is rejected by index; the rest are stored."""
    sent = await api.post(
        "/v1/events",
        json={
            "events": [
                ev(device_id="d", type="action", title="a\x00b"),
                ev(device_id="d", type="action"),
                ev(device_id="d", type="action", properties={"n": 2**70}),
            ]
        },
        headers=bearer(keys.publishable),
    )
    body = sent.json()
    assert (200, 1) == (sent.status_code, body["accepted"])
    assert [
        (0, "events[0]: NUL characters (\\u0000) are not allowed (at title)"),
        (2, "events[2]: integers must fit in 64 bits (at properties.n)"),
    ] == [(r["index"], r["message"]) for r in body["rejected"]]


async def test_an_item_that_is_not_an_object_is_rejected_alone(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A batch item that is not a JSON object is rejected by index, on both batch paths; the rest are stored."""
    created = await api.post("/v1/sessions", json={}, headers=bearer(keys.publishable))
    sid = created.json()["id"]
    for path, good in (
        ("/v1/events", ev(device_id="d", type="action")),
        (f"/v1/sessions/{sid}/events", ev(type="action")),
    ):
        sent = await api.post(
            path, json={"events": [7, good, ["x"], None]}, headers=bearer(keys.publishable)
        )
        body = sent.json()
        assert (200, 1) == (sent.status_code, body["accepted"]), path
        assert [
            (0, "events[0] is not a JSON object."),
            (2, "events[2] is not a JSON object."),
            (3, "events[3] is not a JSON object."),
        ] == [(r["index"], r["message"]) for r in body["rejected"]]
    only_bad = await api.post(
        "/v1/events", json={"events": ["x"]}, headers=bearer(keys.publishable)
    )
    assert (422, "invalid_input") == (only_bad.status_code, only_bad.json()["error"]["code"])


async def test_batch_over_500_events_is_refused(api: httpx.AsyncClient, keys: Keys) -> None:
    """A batch of more than 500 events is a 422 naming the events field."""
    sent = await api.post(
        "/v1/events",
        json={"events": [ev(device_id="d", type="action") for _ in range(501)]},
        headers=bearer(keys.secret),
    )
    assert 422 == sent.status_code
    assert "events" in sent.json()["error"]["message"]


@pytest.fixture
async def proxied_api(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Engine]]:
    """The API behind a trusted proxy (the test client's 127.0.0.1) that sets CF-IPCountry."""
    engine = await Engine(
        settings.replace(trusted_proxies="127.0.0.1", country_header="CF-IPCountry"), clock=clock
    ).start(migrate=False)
    transport = httpx.ASGITransport(app=create_app(engine, run_worker=False, manage_engine=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, engine
    finally:
        await engine.close()


async def test_country_from_forwarded_ip_and_cdn_header(
    proxied_api: tuple[httpx.AsyncClient, Engine],
) -> None:
    """Behind a trusted proxy the country comes from X-Forwarded-For, and a CDN country header wins."""
    client, engine = proxied_api
    app = await engine.apps.create("geo")
    key = (await engine.keys.issue("publishable", app.id)).token
    headers = {**bearer(key), "User-Agent": CHROME}
    by_ip = await client.post(
        "/v1/events",
        json={"events": [ev(device_id="d1", type="page_view")]},
        headers={**headers, "X-Forwarded-For": "81.2.69.160"},
    )
    by_cdn = await client.post(
        "/v1/events",
        json={"events": [ev(device_id="d2", type="page_view")]},
        headers={**headers, "X-Forwarded-For": "81.2.69.160", "CF-IPCountry": "DE"},
    )
    countries = [
        (await engine.sessions.get(app.id, r.json()["sessions"][0])).location.country
        for r in (by_ip, by_cdn)
    ]
    assert ["GB", "DE"] == countries


async def test_forwarded_headers_from_untrusted_peers_are_ignored(
    api: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    """Without a trusted proxy setting, X-Forwarded-For and CDN headers can't set the country."""
    sent = await api.post(
        "/v1/events",
        json={"events": [ev(device_id="d1", type="page_view")]},
        headers={
            **bearer(keys.publishable),
            "X-Forwarded-For": "81.2.69.160",
            "CF-IPCountry": "DE",
        },
    )
    session = await engine.sessions.get(keys.app_id, sent.json()["sessions"][0])
    assert session.location.country is None


def _iso(ms: int) -> str:
    return from_ms(ms).isoformat().replace("+00:00", "Z")


async def test_heartbeats_count_as_engaged_time_but_long_gaps_do_not(
    engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A heartbeat after a minute adds that minute of engaged time; one after a 400 s gap adds none."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())
    clock.advance(60)
    await engine.sessions.heartbeat(keys.app_id, session.id)
    clock.advance(400)
    beat = await engine.sessions.heartbeat(keys.app_id, session.id)
    assert (60.0, 460.0) == (beat.engaged_s, beat.duration_s)
