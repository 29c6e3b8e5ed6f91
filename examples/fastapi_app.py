"""A FastAPI app with Sessionhub embedded: every visitor gets a session, tracked server-side.

    .venv/bin/python examples/fastapi_app.py        # then open http://127.0.0.1:8001/

Sessionhub runs in-process (an ``Engine`` on ./data-example/sessionhub.db); the
middleware records page views and 5xx errors, ``/login`` links the visitor's device to
a user, ``/logout`` ends the session. Point a Sessionhub dashboard or the API at the same
database to see the visits.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from sessionhub import Engine, Settings
from sessionhub.middleware import SessionhubMiddleware


def build(engine: Engine) -> FastAPI:
    """The example app over ``engine``; its Sessionhub app ("example") is made at startup."""
    state: dict[str, str] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        found = [app for app in await engine.apps.list() if app.name == "example"]
        state["app_id"] = found[0].id if found else (await engine.apps.create("example")).id
        try:
            yield
        finally:
            await engine.close()

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(SessionhubMiddleware, engine=engine, app_id=lambda: state["app_id"])

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> str:
        visitor = request.state.sessionhub
        return f"<h1>Shop</h1><p>Your Sessionhub session: {visitor.session_id}</p>"

    @app.get("/products/{sku}", response_class=HTMLResponse)
    async def product(sku: str, request: Request) -> str:
        await request.state.sessionhub.track("action", {"name": "view_product", "sku": sku})
        return f"<h1>{sku}</h1>"

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        user_id = request.query_params.get("user", "demo-user")
        await request.state.sessionhub.identify(user_id)
        return {"user_id": user_id}

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, bool]:
        await request.state.sessionhub.end("logout")
        return {"ended": True}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug, recorded in Sessionhub as an error event")

    return app


def main() -> None:
    import uvicorn

    data_dir = Path(os.environ.get("SESSIONHUB_DATA_DIR", "data-example"))
    engine = Engine(Settings(data_dir=data_dir, run_worker=False))
    uvicorn.run(build(engine), host="127.0.0.1", port=int(os.environ.get("PORT", "8001")))


if __name__ == "__main__":
    main()
