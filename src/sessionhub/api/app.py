"""The FastAPI application: routers, error rendering, body limits, metrics, CORS, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionhub import metrics
from sessionhub._version import __version__
from sessionhub.api import errors, ratelimit
from sessionhub.api.responses import ADMIN_ERRORS, APP_ERRORS, json_response
from sessionhub.api.routers import (
    admin,
    analytics,
    audit,
    bulk,
    events,
    experiments,
    federation,
    health,
    memory,
    personalization,
    privacy,
    sdk,
    sessions,
    state,
    transfer,
    work,
    work_insights,
    work_plan,
    work_talk,
)
from sessionhub.core.engine import Engine
from sessionhub.dashboard import create_dashboard
from sessionhub.errors import PayloadTooLarge
from sessionhub.worker import Worker


class Edge:
    """What every HTTP request passes first: metrics, CORS for web pages, the body limit.

    One layer instead of three: each ASGI layer costs a coroutine frame and a ``send``
    wrapper on every request. CORS only concerns requests with an ``Origin`` header (sent by
    browsers), so the others skip Starlette's CORS middleware altogether.

    Requests are counted and timed by route template, never by raw path (ids stay out).
    Bodies over ``max_bytes`` are refused with 413, declared or streamed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        larger: dict[str, int] | None = None,
        cors: dict[str, Any],
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}
        self.cors = CORSMiddleware(self._limited, **cors)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if any(name == b"origin" for name, _ in scope["headers"]):
                await self.cors(scope, receive, send_wrapper)
            else:
                await self._limited(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            key = (name, scope["method"], status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    metrics.REQUESTS.labels(name, scope["method"], str(status)),
                    metrics.REQUEST_SECONDS.labels(name),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.larger.get(scope["path"], self.max_bytes)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                if int(value) > limit:
                    await _too_large(limit)(scope, receive, send)
                    return
                await self.app(scope, receive, send)
                return
        seen = 0
        cut_off = False
        responded = False

        async def limited_receive() -> Message:
            nonlocal seen, cut_off
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    cut_off = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if cut_off and not responded:
                return
            responded = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if cut_off and not responded:
            await _too_large(limit)(scope, receive, send)


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class _TooLarge(Exception):
    pass


def _too_large(limit: int) -> Response:
    error = PayloadTooLarge(
        f"The request body is larger than {limit} bytes.",
        details={"field": "body", "limit": limit},
    )
    return json_response(error.to_dict(), status=413)


def create_app(
    engine: Engine, *, run_worker: bool | None = None, manage_engine: bool = True
) -> FastAPI:
    """Build the API around ``engine``; its lifespan starts the engine and, if asked, the worker."""
    worker_on = engine.settings.run_worker if run_worker is None else run_worker

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if manage_engine:
            await engine.start()
            # What exists now (modules, routes, schemas, the engine) lives as long as the
            # process: keep the garbage collector from walking it on every full collection,
            # which stalled every request in flight for ~0.1 s a few times a second. What
            # the first requests build lazily (validators, parsers) is walked 10x less often.
            gc.collect()
            gc.freeze()
            gen0, gen1, _ = gc.get_threshold()
            gc.set_threshold(gen0, gen1, 100)
        task = asyncio.create_task(Worker(engine).run_forever()) if worker_on else None
        try:
            yield {}
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if manage_engine:
                await engine.close()

    app = FastAPI(
        title="Sessionhub",
        version=__version__,
        description="A self-hosted session engine. Authenticate with `Authorization: Bearer <key>`.",
        lifespan=lifespan,
        # FastAPI asks the OpenTelemetry providers on every request whether to trace it
        # (about 3 % of a validate); off unless the operator turns it on.
        telemetry=None if engine.settings.opentelemetry else _NO_TELEMETRY,
    )
    app.state.engine = engine
    errors.install(app)
    ratelimit.install(app)
    # Routes are matched in order, one by one, and a router that holds no match is scanned to
    # its end: the hot paths first, event ingestion (four routes) ahead of the lifecycle.
    for router in (
        events,
        sessions,
        bulk,
        transfer,
        memory,
        state,
        analytics,
        privacy,
        work,
        work_plan,
        work_talk,
        work_insights,
        personalization,
        experiments,
        federation,
    ):
        app.include_router(router.router, responses=APP_ERRORS)
    app.include_router(admin.router, responses=ADMIN_ERRORS)
    app.include_router(audit.router, responses=ADMIN_ERRORS)
    app.include_router(health.router)
    app.include_router(sdk.router)  # its routes declare their own responses
    # The dashboard is an app of its own: HTML errors, cookie sign-in, not in the OpenAPI.
    app.mount("/dashboard", create_dashboard(engine))
    app.add_middleware(
        Edge,
        max_bytes=engine.settings.max_body_bytes,
        larger={"/v1/import": engine.settings.max_import_bytes},
        cors={
            "allow_origins": ["*"],
            "allow_methods": ["GET", "POST", "PATCH", "DELETE"],
            "allow_headers": ["authorization", "content-type"],
            # A page's script may read when to retry after a 429.
            "expose_headers": ["retry-after", "ratelimit", "ratelimit-policy"],
            "max_age": 600,
        },
    )
    return app
