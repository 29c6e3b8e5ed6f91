"""Data subjects: find, export (Art. 15/20) and erase (Art. 17) over the API."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Connection, func, insert, select

from sessionhub import Engine, FakeClock, Settings
from sessionhub.core.analytics import rollups
from sessionhub.core.audit import subject_ref
from sessionhub.core.subjects import SECTIONS
from sessionhub.crypto import new_key
from sessionhub.models import SessionCreate
from sessionhub.models.memory import MessageIn, StatePut
from sessionhub.models.privacy import SubjectIn
from sessionhub.storage import privacy_subjects as q
from sessionhub.storage.schema import analytics_rollups, events
from sessionhub.storage.schema_audit import audit_log
from sessionhub.storage.schema_privacy import subject_requests
from sessionhub.storage.schema_work import work_comments, work_members, work_mentions
from tests.conftest import Keys
from tests.privacy.support import pk, send_events, sk, tables_mentioning

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
USER = "subject-7f3a"
DEVICE = "device-7f3a"


async def _seed(api: httpx.AsyncClient, keys: Keys, user: str, device: str) -> str:
    """A user with a device, a session holding one of everything, and consent; its session id."""
    created = await api.post(
        "/v1/sessions",
        json={"device_id": device, "kind": "conversation"},
        headers={**sk(keys), "User-Agent": BROWSER},
    )
    session_id = str(created.json()["id"])
    await api.post("/v1/identify", json={"device_id": device, "user_id": user}, headers=sk(keys))
    assert 200 == (await send_events(api, keys, session_id, 3)).status_code
    base = f"/v1/sessions/{session_id}"
    calls = [
        ("POST", f"{base}/messages", {"role": "user", "content": f"hello from {user}"}),
        ("POST", f"{base}/cart/items", {"sku": "sku-1", "name": "Tea", "price": "3.50"}),
        ("PUT", f"{base}/state/step", {"value": 2}),
        ("PATCH", f"{base}/preferences", {"theme": "dark"}),
        ("PUT", f"{base}/cache", {"prompt": "hi", "response": "hello"}),
        ("POST", f"{base}/shares", None),
        ("PUT", f"/v1/users/{user}/state/plan", {"value": "pro"}),
        ("POST", "/v1/consent", {"user_id": user, "purposes": {"marketing": True}}),
    ]
    for method, path, body in calls:
        response = await api.request(method, path, json=body, headers=sk(keys))
        assert response.is_success, (path, response.text)
    await api.post("/v1/consent", json={"device_id": device, "do_not_sell": True}, headers=pk(keys))
    return session_id


async def _export(api: httpx.AsyncClient, keys: Keys, **subject: str) -> dict[str, Any]:
    response = await api.get("/v1/subjects/export", params=subject, headers=sk(keys))
    assert ("application/json", 200) == (
        response.headers["content-type"].split(";")[0],
        response.status_code,
    )
    exported: dict[str, Any] = response.json()
    return exported


async def test_an_export_holds_every_kind_of_record_with_what_it_means(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """The export is one JSON document with a described section per kind of record, each holding the subject's records."""
    await _seed(api, keys, USER, DEVICE)
    await _seed(api, keys, "someone-else", "other-device")
    exported = await _export(api, keys, user_id=USER)
    sections = exported["sections"]
    counts = {name: len(section["records"]) for name, section in sections.items()}
    assert [s.name for s in SECTIONS] == list(sections)
    assert all(section["description"] for section in sections.values())
    assert {
        "sessions": 1,
        "events": 3,
        "messages": 1,
        "preferences": 1,
        "state": 2,
        "cart": 1,
        "cached_answers": 1,
        "shares": 1,
        "devices": 1,
        "consent": 2,
        "consent_log": 2,
    } == {name: n for name, n in counts.items() if name in {s.name for s in SECTIONS[:11]}}
    assert f"hello from {USER}" == sections["messages"]["records"][0]["content"]
    assert [2, "pro"] == [r["value"] for r in sections["state"]["records"]]
    assert "someone-else" not in str(exported)


async def test_find_counts_what_the_export_holds(api: httpx.AsyncClient, keys: Keys) -> None:
    """Find names the subject's devices and counts exactly the records the export holds."""
    await _seed(api, keys, USER, DEVICE)
    found = (await api.get("/v1/subjects", params={"user_id": USER}, headers=sk(keys))).json()
    exported = await _export(api, keys, user_id=USER)
    assert [DEVICE] == found["devices"]
    assert {n: len(s["records"]) for n, s in exported["sections"].items()} == found["records"]


async def test_a_device_is_a_subject_of_its_own(api: httpx.AsyncClient, keys: Keys) -> None:
    """Found by device id, the subject is the device's sessions and the users they belong to."""
    await _seed(api, keys, USER, DEVICE)
    found = (await api.get("/v1/subjects", params={"device_id": DEVICE}, headers=sk(keys))).json()
    assert ([USER], 1, 3) == (
        found["users"],
        found["records"]["sessions"],
        found["records"]["events"],
    )


@pytest.mark.parametrize("params", [{}, {"user_id": "u", "device_id": "d"}])
async def test_a_subject_is_one_user_or_one_device(
    api: httpx.AsyncClient, keys: Keys, params: dict[str, str]
) -> None:
    """Neither or both of user_id and device_id is a 422, for find, export and erase alike."""
    found = await api.get("/v1/subjects", params=params, headers=sk(keys))
    exported = await api.get("/v1/subjects/export", params=params, headers=sk(keys))
    erased = await api.post("/v1/subjects/erase", json=params, headers=sk(keys))
    assert (422, 422, 422) == (found.status_code, exported.status_code, erased.status_code)


async def test_erasure_removes_the_subject_from_every_table(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """After erasing a user, neither their id nor their device's appears in any table; others' data stays."""
    await _seed(api, keys, USER, DEVICE)
    await _seed(api, keys, "someone-else", "other-device")
    response = await api.post("/v1/subjects/erase", json={"user_id": USER}, headers=sk(keys))
    assert (200, 3) == (response.status_code, response.json()["records"]["events"])
    assert ([], []) == (
        await tables_mentioning(engine, USER),
        await tables_mentioning(engine, DEVICE),
    )
    assert "sessions" in await tables_mentioning(engine, "someone-else")


async def test_an_export_after_erasure_is_empty(api: httpx.AsyncClient, keys: Keys) -> None:
    """Every section of an export made after the erasure holds no record."""
    await _seed(api, keys, USER, DEVICE)
    await api.post("/v1/subjects/erase", json={"user_id": USER}, headers=sk(keys))
    exported = await _export(api, keys, user_id=USER)
    assert {name: [] for name in exported["sections"]} == {
        name: section["records"] for name, section in exported["sections"].items()
    }


async def test_erasure_ends_the_subjects_sessions_at_once(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """The erased user's running session stops working at once (like revoking all sessions)."""
    session_id = await _seed(api, keys, USER, DEVICE)
    erased = await api.post("/v1/subjects/erase", json={"user_id": USER}, headers=sk(keys))
    checked = await api.post(f"/v1/sessions/{session_id}/validate", headers=sk(keys))
    assert (1, 404) == (erased.json()["sessions_revoked"], checked.status_code)


async def test_data_arriving_after_erasure_starts_from_nothing(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """A new session under the erased user id has no old state, no consent, no links: one session, nothing else."""
    await _seed(api, keys, USER, DEVICE)
    await api.post("/v1/subjects/erase", json={"user_id": USER}, headers=sk(keys))
    await api.post("/v1/sessions", json={"user_id": USER, "device_id": DEVICE}, headers=sk(keys))
    state = await api.get(f"/v1/users/{USER}/state", headers=sk(keys))
    consent = (await api.get("/v1/consent", params={"user_id": USER}, headers=sk(keys))).json()
    found = (await api.get("/v1/subjects", params={"user_id": USER}, headers=sk(keys))).json()
    assert [] == state.json()["items"]
    assert ({}, None) == (consent["user"]["purposes"], consent["user"]["do_not_sell"])
    assert {"sessions": 1} == {n: c for n, c in found["records"].items() if c}


def _rolled_sessions(conn: Connection) -> int:
    r = analytics_rollups.c
    query = select(func.coalesce(func.sum(r.sessions), 0)).where(r.dimension == "")
    return int(conn.execute(query).scalar_one())


async def test_erasure_recomputes_the_rollups_of_the_days_it_touched(
    api: httpx.AsyncClient, engine: Engine, keys: Keys, clock: FakeClock
) -> None:
    """A rolled-up day that held the subject's session is recomputed without it; other sessions stay counted."""
    await _seed(api, keys, USER, DEVICE)
    await _seed(api, keys, "someone-else", "other-device")
    clock.advance(2 * 86400)
    await rollups.refresh(engine, keys.app_id)
    before = await engine.db.read(_rolled_sessions)
    erased = await api.post("/v1/subjects/erase", json={"user_id": USER}, headers=sk(keys))
    assert (2, 1, 1) == (
        before,
        erased.json()["days_recomputed"],
        await engine.db.read(_rolled_sessions),
    )


def _requests(conn: Connection) -> list[tuple[str, str]]:
    r = subject_requests.c
    return [tuple(row) for row in conn.execute(select(r.kind, r.subject_ref).order_by(r.kind))]


def _audited(conn: Connection) -> list[tuple[str, str | None]]:
    a = audit_log.c
    query = select(a.action, a.target).where(a.action.like("subject.%")).order_by(a.seq)
    return [tuple(row) for row in conn.execute(query)]


async def test_exports_and_erasures_are_logged_under_a_salted_hash(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Each export and erasure is a served request and an audit entry, naming the subject only by its hash."""
    await _seed(api, keys, USER, DEVICE)
    await _export(api, keys, user_id=USER)
    await api.post("/v1/subjects/erase", json={"user_id": USER}, headers=sk(keys))
    ref = subject_ref(USER)
    assert [("erase", ref), ("export", ref)] == await engine.db.read(_requests)
    assert [("subject.export", ref), ("subject.erase", ref)] == await engine.db.read(_audited)


def _sealed_event(conn: Connection, app_id: str, sid: int, properties: str) -> None:
    # Stored as ingestion stores it with encryption on (written directly: this test is
    # about reading it back).
    conn.execute(
        insert(events).values(
            app_id=app_id,
            session_sid=sid,
            id="evt_sealed",
            name="action",
            occurred_at=0,
            received_at=0,
            properties=properties,
        )
    )


async def test_an_export_opens_what_encryption_at_rest_sealed(
    settings: Settings, clock: FakeClock
) -> None:
    """With encryption at rest on, the export holds the plain message, state value and event properties."""
    engine = await Engine(settings.replace(encryption_key=new_key()), clock=clock).start(
        migrate=False
    )
    try:
        app = await engine.apps.create("sealed")
        session, _ = await engine.sessions.create(
            app.id, SessionCreate(user_id=USER, kind="conversation")
        )
        await engine.memory.add(app.id, session.id, MessageIn(role="user", content="secret words"))
        await engine.state.put(app.id, "user", "plan", StatePut(value="pro"), user_id=USER)
        sid = (await engine.db.read(q.resolve, app.id, USER, None))["sessions"][0]["sid"]
        sealer = engine.encryption.sealer
        assert sealer is not None
        sealed = sealer.seal_json({"sku": "a1"}, "events.properties")
        await engine.db.write(_sealed_event, app.id, sid, sealed)
        chunks = await engine.subjects.export(app.id, SubjectIn(user_id=USER))
        document = orjson.loads(b"".join([chunk async for chunk in chunks]))
    finally:
        await engine.close()
    sections = document["sections"]
    assert ("secret words", "pro", {"sku": "a1"}) == (
        sections["messages"]["records"][0]["content"],
        sections["state"]["records"][0]["value"],
        sections["events"]["records"][0]["properties"],
    )


def _in_someone_elses_work_session(conn: Connection, app_id: str, sid: int) -> None:
    conn.execute(
        insert(work_members).values(
            session_sid=sid, user_id=USER, app_id=app_id, role="editor", added_at=0
        )
    )
    conn.execute(
        insert(work_comments).values(
            id="cmt_1",
            session_sid=sid,
            author_id=USER,
            body="my words",
            mentions=[],
            created_at=0,
        )
    )
    conn.execute(
        insert(work_comments).values(
            id="cmt_2",
            session_sid=sid,
            author_id="boss",
            body=f"thanks @{USER}",
            mentions=[USER],
            created_at=1,
        )
    )
    conn.execute(
        insert(work_mentions).values(
            user_id=USER, comment_id="cmt_2", app_id=app_id, session_sid=sid, created_at=1
        )
    )


def _comments(conn: Connection) -> list[tuple[str, str, list[str]]]:
    c = work_comments.c
    query = select(c.author_id, c.body, c.mentions).order_by(c.id)
    return [tuple(row) for row in conn.execute(query)]


async def test_work_the_user_did_in_others_sessions_is_exported_then_erased(
    engine: Engine, keys: Keys
) -> None:
    """A membership and a comment in another user's work session are in the export; erasure
    removes the membership, blanks the comment (it keeps its place in the thread) and takes
    the user's id out of comments that mention them."""
    owner, _ = await engine.sessions.create(keys.app_id, SessionCreate(kind="work", user_id="boss"))
    sid = (await engine.db.read(q.resolve, keys.app_id, "boss", None))["sessions"][0]["sid"]
    await engine.db.write(_in_someone_elses_work_session, keys.app_id, sid)
    chunks = await engine.subjects.export(keys.app_id, SubjectIn(user_id=USER))
    sections = orjson.loads(b"".join([chunk async for chunk in chunks]))["sections"]
    await engine.subjects.erase(keys.app_id, SubjectIn(user_id=USER))
    found = await engine.subjects.find(keys.app_id, SubjectIn(user_id=USER))
    assert (owner.id, "my words") == (
        sections["work_memberships"]["records"][0]["session_id"],
        sections["work_contributions"]["records"][0]["body"],
    )
    assert [("~erased~", "", []), ("boss", "thanks @~erased~", [])] == await engine.db.read(
        _comments
    )
    assert 0 == sum(found.records.values())
