"""A Flask app tracked by a Sessionhub server: every visitor gets a session.

    scripts/serve                                   # Sessionhub at http://127.0.0.1:8000
    SESSIONHUB_KEY=sk_… .venv/bin/python examples/flask_app.py   # the app at :8002

The WSGI middleware records page views and 5xx errors through the Python client;
``/login`` links the visitor's device to a user, ``/logout`` ends the session.
"""

from __future__ import annotations

import os

from flask import Flask, request

from sessionhub import Client
from sessionhub.middleware import SessionhubWSGIMiddleware


def build(client: Client) -> Flask:
    """The example app, tracked through ``client`` (a secret key of the app to track)."""
    app = Flask(__name__)
    app.wsgi_app = SessionhubWSGIMiddleware(app.wsgi_app, client=client)  # type: ignore[method-assign]

    @app.get("/")
    def home() -> str:
        visitor = request.environ["sessionhub"]
        return f"<h1>Blog</h1><p>Your Sessionhub session: {visitor.session_id}</p>"

    @app.post("/login")
    def login() -> dict[str, str]:
        user_id = request.args.get("user", "demo-user")
        request.environ["sessionhub"].identify(user_id)
        return {"user_id": user_id}

    @app.post("/logout")
    def logout() -> dict[str, bool]:
        request.environ["sessionhub"].end("logout")
        return {"ended": True}

    @app.get("/broken")
    def broken() -> str:
        raise RuntimeError("a bug, recorded in Sessionhub as an error event")

    return app


def main() -> None:
    url = os.environ.get("SESSIONHUB_URL", "http://127.0.0.1:8000")
    client = Client(url, key=os.environ["SESSIONHUB_KEY"])
    build(client).run(host="127.0.0.1", port=int(os.environ.get("PORT", "8002")))


if __name__ == "__main__":
    main()
