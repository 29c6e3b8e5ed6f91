"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sessionhub.api.auth import get_engine
from sessionhub.api.responses import ErrorBody, json_response
from sessionhub.errors import StorageError

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> Response:
    """The process is up."""
    return json_response({"status": "ok"})


@router.get("/readyz", responses={503: {"model": ErrorBody, "description": "Storage unreachable"}})
async def readyz(request: Request) -> Response:
    """The process can reach its storage."""
    try:
        await get_engine(request).db.ping()
    except StorageError as exc:
        return json_response(exc.to_dict(), status=503)
    return json_response({"status": "ready", "database": get_engine(request).db.dialect})


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics: requests, latencies, active sessions, write queue, commit batches, worker runs."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
