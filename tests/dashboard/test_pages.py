"""The dashboard's pages and forms over ASGI, on every backend: what they show and change."""

from __future__ import annotations

import re

import httpx
import pytest

from sessionhub import Engine
from sessionhub.enrich.client import ClientInfo
from sessionhub.models import SessionCreate
from tests.conftest import Keys
from tests.dashboard.conftest import csrf_of

PAGES = [
    "/dashboard/",
    "/dashboard/sessions",
    "/dashboard/users",
    "/dashboard/reports/funnels",
    "/dashboard/reports/paths",
    "/dashboard/reports/retention",
    "/dashboard/reports/geography",
    "/dashboard/reports/devices",
    "/dashboard/conversations",
    "/dashboard/settings",
]
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


async def _visits(engine: Engine, app_id: str, count: int, **event: object) -> list[str]:
    """Start ``count`` one-page visits from a desktop Chrome; their session ids."""
    found = []
    for n in range(count):
        raw = {"device_id": f"dev-{n}", "type": "page_view", "url": "https://a.example/x", **event}
        result = await engine.events.ingest(app_id, [raw], client=ClientInfo(user_agent=CHROME))
        found += result.sessions
    return found


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_of_an_empty_app_opens(dash: httpx.AsyncClient, path: str) -> None:
    """An app with no data yet still opens every page (no error, no numbers made up)."""
    response = await dash.get(path)
    assert 200 == response.status_code
    assert "default-src 'self'; script-src 'self'" in response.headers["content-security-policy"]


async def test_empty_overview_and_sessions_show_the_snippet(dash: httpx.AsyncClient) -> None:
    """Without sessions, the overview and the table say so and give the tracker snippet."""
    for path in ("/dashboard/", "/dashboard/sessions"):
        text = (await dash.get(path)).text
        assert "No sessions yet" in text
        assert "/sdk/sessionhub.js&#34; data-key=&#34;pk_…&#34;" in text or (
            '/sdk/sessionhub.js" data-key="pk_…"' in text.replace("&#34;", '"')
        )


async def test_bad_input_is_an_error_page_never_a_500(dash: httpx.AsyncClient) -> None:
    """A malformed date, an unknown filter or a missing session answers 4xx pages."""
    bad_dates = await dash.get("/dashboard/?from=2026-01-01&to=soon")
    assert 422 == bad_dates.status_code
    assert "date" in bad_dates.text.lower()
    assert 200 == (await dash.get("/dashboard/?f=nonsense:1&range=forever")).status_code
    assert 404 == (await dash.get("/dashboard/sessions/ses_nope")).status_code
    assert 404 == (await dash.get("/dashboard/users/nobody")).status_code
    assert 404 == (await dash.get("/dashboard/no-such-page")).status_code


async def test_the_sessions_table_pages_with_a_cursor(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """50 rows a page; htmx's "more" fetches the next rows alone, with no repeats."""
    await _visits(engine, keys.app_id, 53)
    first = await dash.get("/dashboard/sessions")
    ids = re.findall(r'href="/dashboard/sessions/(ses_[\w-]+)"', first.text)
    assert 50 == len(ids)
    more = re.search(r'hx-get="(/dashboard/sessions\?[^"]+)"', first.text)
    assert more is not None
    rest = await dash.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "1"})
    later = re.findall(r'href="/dashboard/sessions/(ses_[\w-]+)"', rest.text)
    assert 3 == len(later)
    assert "<html" not in rest.text
    assert not set(ids) & set(later)


async def test_the_sessions_table_filters_by_status_and_user(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The table's controls are GET /v1/sessions filters."""
    ended, running = await _visits(engine, keys.app_id, 2)
    await engine.sessions.end(keys.app_id, ended)
    await engine.sessions.create(keys.app_id, SessionCreate(user_id="ada"))
    page = await dash.get("/dashboard/sessions?status=ended")
    assert ended in page.text
    assert running not in page.text
    page = await dash.get("/dashboard/sessions?q=ada")
    assert "ada" in page.text
    assert ended not in page.text


async def test_revoke_from_the_session_page(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The revoke button ends the session with reason revoked."""
    (session_id,) = await _visits(engine, keys.app_id, 1)
    token = csrf_of((await dash.get(f"/dashboard/sessions/{session_id}")).text)
    response = await dash.post(f"/dashboard/sessions/{session_id}/revoke", data={"csrf": token})
    assert 303 == response.status_code
    assert "revoked" == (await engine.sessions.get(keys.app_id, session_id)).end_reason


async def test_untrusted_strings_are_escaped_in_the_html(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Titles, properties and user ids reach the page as text, never as markup."""
    payload = "<script>window.__pwned=1</script>"
    (session_id,) = await _visits(
        engine, keys.app_id, 1, title=payload, properties={"x": '<img src=x onerror="a()">'}
    )
    page = (await dash.get(f"/dashboard/sessions/{session_id}")).text
    assert payload not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "\\u003cimg src=x onerror=" in page  # the properties' JSON, escaped


async def test_settings_are_saved_and_bad_values_explained(
    admin_dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The settings form changes the app's settings; a wrong value is a 422 naming it."""
    await admin_dash.post(
        "/dashboard/switch", data={"app_id": keys.app_id, "csrf": await _t(admin_dash)}
    )
    form = {
        "csrf": await _t(admin_dash, "/dashboard/settings"),
        "idle_timeout_s": "600",
        "absolute_lifetime_s": "",
        "timezone": "Europe/Berlin",
        "events_days": "14",
        "messages_days": "",
        "ended_sessions_days": "90",
        "consent_mode": "required",
        "allowed_origins": "https://shop.example\nhttps://www.shop.example",
    }
    saved = await admin_dash.post("/dashboard/settings", data=form)
    assert 303 == saved.status_code
    settings = (await engine.apps.get(keys.app_id)).settings
    assert 600 == settings.idle_timeout_s
    assert settings.absolute_lifetime_s is None
    assert ("Europe/Berlin", "required") == (settings.timezone, settings.consent_mode)
    assert (14, None, 90) == (
        settings.retention.events_days,
        settings.retention.messages_days,
        settings.retention.ended_sessions_days,
    )
    assert ["https://shop.example", "https://www.shop.example"] == settings.allowed_origins
    wrong = await admin_dash.post("/dashboard/settings", data={**form, "timezone": "Mars/Base"})
    assert 422 == wrong.status_code
    assert "timezone" in wrong.text
    assert "Europe/Berlin" == (await engine.apps.get(keys.app_id)).settings.timezone


async def test_a_secret_key_sees_settings_read_only(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """As in the API, only an admin changes settings and keys."""
    page = await dash.get("/dashboard/settings")
    assert "read-only" in page.text
    refused = await dash.post(
        "/dashboard/settings", data={"csrf": csrf_of(page.text), "idle_timeout_s": "5"}
    )
    assert 403 == refused.status_code
    assert 1800 == (await engine.apps.get(keys.app_id)).settings.idle_timeout_s


async def test_keys_are_created_rotated_and_revoked(
    admin_dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """A created or rotated key's token is shown once and works; a revoked key stops."""
    await admin_dash.post(
        "/dashboard/switch", data={"app_id": keys.app_id, "csrf": await _t(admin_dash)}
    )
    token = await _t(admin_dash, "/dashboard/settings")
    made = await admin_dash.post(
        "/dashboard/keys", data={"csrf": token, "kind": "publishable", "name": "site"}
    )
    shown = re.search(r'id="issued-token">(pk_[\w-]+)<', made.text)
    assert shown is not None
    caller = await engine.keys.authenticate(shown.group(1))
    assert (keys.app_id, "publishable") == (caller.app_id, caller.kind)
    again = await admin_dash.get("/dashboard/settings")
    assert shown.group(1) not in again.text

    rotated = await admin_dash.post(f"/dashboard/keys/{caller.key_id}/rotate", data={"csrf": token})
    new = re.search(r'id="issued-token">(pk_[\w-]+)<', rotated.text)
    assert new is not None
    assert new.group(1) != shown.group(1)
    await engine.keys.authenticate(new.group(1))

    revoked = await admin_dash.post(f"/dashboard/keys/{caller.key_id}/revoke", data={"csrf": token})
    assert 303 == revoked.status_code
    assert (await engine.keys.get(caller.key_id)).revoked_at is not None


async def test_erase_needs_the_user_id_typed_and_then_removes_the_user(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The erase form is refused without the confirmation, and erases with it."""
    await engine.sessions.create(keys.app_id, SessionCreate(user_id="grace", device_id="g-1"))
    page = await dash.get("/dashboard/users/grace")
    assert 200 == page.status_code
    assert "g-1" in page.text
    token = csrf_of(page.text)
    refused = await dash.post("/dashboard/users/grace/erase", data={"csrf": token, "confirm": "x"})
    assert 422 == refused.status_code
    assert 1 == len((await engine.sessions.list(keys.app_id)).items)
    done = await dash.post("/dashboard/users/grace/erase", data={"csrf": token, "confirm": "grace"})
    assert "/dashboard/users?erased=grace" == done.headers["location"]
    assert [] == (await engine.sessions.list(keys.app_id)).items


async def test_export_downloads_the_users_records(
    dash: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """The export button answers the subject's JSON document as a download."""
    await engine.sessions.create(keys.app_id, SessionCreate(user_id="lin", device_id="l-1"))
    token = csrf_of((await dash.get("/dashboard/users/lin")).text)
    response = await dash.post("/dashboard/users/lin/export", data={"csrf": token})
    assert 200 == response.status_code
    assert 'filename="sessionhub-lin.json"' in response.headers["content-disposition"]
    assert "lin" == response.json()["user_id"]
    assert 1 == len(response.json()["sections"]["sessions"]["records"])


async def _t(client: httpx.AsyncClient, path: str = "/dashboard/") -> str:
    return csrf_of((await client.get(path)).text)
