"""Export (streamed download) and import of sessions and events, for secret keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import SecretCaller
from sessionhub.api.responses import json_response
from sessionhub.clock import to_ms
from sessionhub.core import transfer
from sessionhub.errors import InvalidInput
from sessionhub.models.events import ExportFormat, ExportKind, ImportResult

router = APIRouter(prefix="/v1", tags=["export and import"])
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


def time_range(start: datetime | None, end: datetime | None, now_ms: int) -> tuple[int, int]:
    """[start, end) in ms: from the beginning of time to now when not given."""
    lo = to_ms(start) if start is not None else 0
    hi = to_ms(end) if end is not None else now_ms + 1
    if hi <= lo:
        raise InvalidInput("'to' must be after 'from'.", details={"field": "to"})
    return lo, hi


@router.get(
    "/export/{kind}",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {MEDIA["jsonl"]: {}, MEDIA["csv"]: {}},
            "description": "The records, streamed.",
        }
    },
)
async def export(
    kind: ExportKind,
    request: Request,
    caller: SecretCaller,
    start: Annotated[
        datetime | None, Query(alias="from", description="ISO 8601, inclusive.")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="ISO 8601, exclusive.")] = None,
    format: ExportFormat = "jsonl",
) -> StreamingResponse:
    """Download the app's sessions (by start) or events (by time) in a range, as JSONL or CSV."""
    engine = get_engine(request)
    lo, hi = time_range(start, end, engine.clock.now_ms())
    await engine.apps.get(app_id_of(caller))
    records = transfer.export_records(engine, app_id_of(caller), kind, lo, hi)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        transfer.render(records, format),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{kind}-{stamp}.{format}"'},
    )


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                MEDIA["jsonl"]: {"schema": {"type": "string", "description": "JSON lines."}}
            },
        }
    },
)
async def import_records(request: Request, caller: SecretCaller) -> Response:
    """Load JSONL session and event records (sessions before their events); twice changes nothing."""
    body = await request.body()
    result = await transfer.import_lines(get_engine(request), app_id_of(caller), body.splitlines())
    return json_response(result)
