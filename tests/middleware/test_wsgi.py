"""The WSGI middleware on the Flask example app, against a real Sessionhub server over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from sessionhub import Client
from tests.middleware.test_asgi import load_example
from tests.servers import Server, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("wsgi") / "data", "wsgi") as running:
        yield running


@pytest.fixture
def sessionhub(server: Server) -> Iterator[Client]:
    with Client(server.url, key=server.keys()["secret"]) as client:
        yield client


@pytest.fixture
def browser(sessionhub: Client) -> FlaskClient:
    app = load_example("flask_app").build(sessionhub)
    app.testing = False  # errors become 500 answers, as in production
    return app.test_client()


def _cookie(browser: FlaskClient, name: str = "sessionhub") -> str:
    cookie = browser.get_cookie(name)
    assert cookie is not None
    return cookie.value


def test_page_views_of_a_visitor_share_a_session(browser: FlaskClient, sessionhub: Client) -> None:
    """Two pages, one session id in the cookie, two page views stored with the entry page."""
    browser.get("/", headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"})
    browser.get("/?page=2")
    session_id = _cookie(browser)
    session = sessionhub.get_session(session_id)
    events = sessionhub.session_events(session_id).items
    assert (["page_view", "page_view"], "/", "mobile") == (
        [e.type for e in events],
        session.entry_page,
        session.device.type,
    )


def test_login_logout_and_errors(browser: FlaskClient, sessionhub: Client) -> None:
    """Login links the user, a 500 is an error event, logout ends the session and clears the cookie."""
    browser.get("/")
    session_id = _cookie(browser)
    browser.post("/login?user=grace")
    failed = browser.get("/broken")
    browser.post("/logout")
    session = sessionhub.get_session(session_id)
    types = [e.type for e in sessionhub.session_events(session_id).items]
    assert (500, "grace", "logout", ["page_view", "page_view", "error"]) == (
        failed.status_code,
        session.user_id,
        session.end_reason,
        types,
    )
    assert browser.get_cookie("sessionhub") is None
