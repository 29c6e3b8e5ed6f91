"""The work board and the privacy page over ASGI, on every backend."""

from __future__ import annotations

import re

import httpx

from sessionhub import Engine
from sessionhub.models.privacy import ConsentIn
from sessionhub.models.work import WorkCreate
from tests.conftest import Keys, bearer
from tests.dashboard.conftest import csrf_of


async def test_the_board_groups_the_actors_sessions_by_status(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Cards sit in their status's column; another user's sessions are not on the board."""
    work = engine.work.sessions
    draft = await work.create(keys.app_id, "ana", WorkCreate(name="Draft plan"))
    running = await work.create(keys.app_id, "ana", WorkCreate(name="Running plan"))
    await work.transition(keys.app_id, "ana", running.id, "active")
    await work.create(keys.app_id, "bo", WorkCreate(name="Bo's plan"))
    page = (await dash.get("/dashboard/work?as=ana")).text
    columns = dict(re.findall(r'data-status="(\w+)">(.*?)</section>', page, re.S))
    assert draft.id in columns["draft"]
    assert running.id in columns["active"]
    assert "Bo&#39;s plan" not in page
    assert "Bo's plan" not in page


async def test_quick_actions_create_start_complete_and_delete(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The board's forms create from a template and move a session through its states."""
    token = csrf_of((await dash.get("/dashboard/work?as=ana")).text)
    made = await dash.post(
        "/dashboard/work",
        data={"csrf": token, "as": "ana", "template_id": "tpl_bug_fix", "name": "Fix login"},
    )
    assert 303 == made.status_code
    session_id = made.headers["location"].split("/dashboard/work/", 1)[1].split("?", 1)[0]
    goals = await engine.work.goals.list(keys.app_id, "ana", session_id)
    assert goals.items  # the template's goals came along
    for to, status in (("active", "active"), ("completed", "completed")):
        moved = await dash.post(
            f"/dashboard/work/{session_id}/transition", data={"csrf": token, "as": "ana", "to": to}
        )
        assert 303 == moved.status_code
        assert status == (await engine.work.sessions.get(keys.app_id, "ana", session_id)).status
    wrong = await dash.post(
        f"/dashboard/work/{session_id}/transition",
        data={"csrf": token, "as": "ana", "to": "paused"},
    )
    assert 409 == wrong.status_code
    commented = await dash.post(
        f"/dashboard/work/{session_id}/comments",
        data={"csrf": token, "as": "ana", "body": "<b>done</b>"},
    )
    assert 303 == commented.status_code
    detail = (await dash.get(f"/dashboard/work/{session_id}?as=ana")).text
    assert "&lt;b&gt;done&lt;/b&gt;" in detail
    gone = await dash.post(
        f"/dashboard/work/{session_id}/delete", data={"csrf": token, "as": "ana"}
    )
    assert 303 == gone.status_code
    assert 404 == (await dash.get(f"/dashboard/work/{session_id}?as=ana")).status_code


async def test_privacy_numbers_equal_the_privacy_report_api(
    dash: httpx.AsyncClient, api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Granted and refused counts per purpose are those of GET /v1/privacy/report."""
    for n, granted in enumerate([True, True, False]):
        await engine.consent.set(
            keys.app_id, ConsentIn(device_id=f"d{n}", purposes={"analytics": granted})
        )
    page = (await dash.get("/dashboard/privacy")).text
    rows = re.findall(
        r'<tr><td>(\w+)</td><td class="num">([\d,]+)</td><td class="num">([\d,]+)</td>', page
    )
    report = (await api.get("/v1/privacy/report", headers=bearer(keys.secret))).json()
    assert {p: (str(r["granted"]), str(r["refused"])) for p, r in report["consent"].items()} == {
        p: (g, r) for p, g, r in rows
    }
    assert "66.7%" in page
    assert "sign in with an admin key" in page  # the audit log is admin-only, as in the API


async def test_an_admin_sees_the_audit_chain(
    admin_dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The admin's privacy page verifies the chain and lists the app's entries."""
    token = csrf_of((await admin_dash.get("/dashboard/")).text)
    await admin_dash.post("/dashboard/switch", data={"app_id": keys.app_id, "csrf": token})
    page = (await admin_dash.get("/dashboard/privacy")).text
    check = await engine.audit.verify()
    assert check.ok
    assert f"Chain intact: {check.entries:,} entries verified." in page
    assert "key.create" in page
