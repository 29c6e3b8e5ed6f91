"""Segments: the list with member counts, the builder, members, and size over time."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sessionhub.core.personalization.rules import FIELDS
from sessionhub.dashboard.personalization_forms import (
    MAX_JSON,
    explain,
    json_object,
    plain,
    text,
    validated,
)
from sessionhub.dashboard.personalization_rules import (
    KINDS,
    OPS,
    Row,
    rows_from_form,
    rows_of,
    rules_of,
)
from sessionhub.dashboard.web import Ctx, CtxDep, hx_redirect
from sessionhub.errors import InvalidInput
from sessionhub.models.analytics import PATTERNS
from sessionhub.models.personalization import Segment, SegmentIn

router = APIRouter()

PAGE = 100
STATIC_MOST = 10_000


def _split_users(raw: str) -> list[str]:
    """User ids pasted one per line (or separated by commas or spaces), without repeats."""
    seen: dict[str, None] = {}
    for part in re.split(r"[\s,;]+", raw):
        if part:
            seen.setdefault(part, None)
    return list(seen)


def _form_values(segment: Segment | None = None, users: list[str] | None = None) -> dict[str, Any]:
    """What the builder shows for ``segment`` (a new rule segment when None)."""
    values: dict[str, Any] = {
        "key": "",
        "name": "",
        "mode": "rules",
        "match": "all",
        "rows": [Row()],
        "rules_json": "",
        "users": "",
    }
    if segment is None:
        return values
    values.update(key=segment.key, name=segment.name)
    if segment.kind == "static":
        values.update(mode="static", users="\n".join(users or []))
        return values
    rules = segment.rules or {}
    values["rules_json"] = json.dumps(rules, indent=2)
    flat = rows_of(rules)
    if flat is None:
        values["mode"] = "json"
    else:
        values["match"], values["rows"] = flat
    return values


def _render_form(
    ctx: Ctx, values: dict[str, Any], *, editing: bool, error: str | None = None
) -> Response:
    return ctx.render(
        "segment_form.html",
        status=422 if error else 200,
        values=values,
        editing=editing,
        error=error,
        kinds=KINDS,
        ops=OPS,
        fields=FIELDS,
        patterns=PATTERNS,
        show_controls=False,
    )


@router.get("/segments")
async def segments(ctx: CtxDep) -> Response:
    """Every segment with its members now."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    found = ctx.engine.personalization.segments
    listed = await found.list(ctx.app_id)
    counts = await asyncio.gather(*(found.count(ctx.app_id, s.key) for s in listed))
    return ctx.render(
        "segments.html",
        segments=list(zip(listed, (c.members for c in counts), strict=True)),
        show_controls=False,
    )


@router.get("/segments/new")
async def new_segment(ctx: CtxDep) -> Response:
    """The builder, empty."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    return _render_form(ctx, _form_values(), editing=False)


async def _static_members(ctx: Ctx, key: str) -> list[str]:
    found = ctx.engine.personalization.segments
    members: list[str] = []
    cursor = None
    while len(members) < STATIC_MOST:
        page = await found.members(ctx.app_id, key, limit=500, cursor=cursor)
        members += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return members


@router.get("/segments/{key}/edit")
async def edit_segment(ctx: CtxDep, key: str) -> Response:
    """The builder with the segment's definition."""
    segment = await ctx.engine.personalization.segments.get(ctx.app_id, plain(key, "key", 100))
    users = await _static_members(ctx, segment.key) if segment.kind == "static" else None
    return _render_form(ctx, _form_values(segment, users), editing=True)


@router.post("/segments")
async def save_segment(ctx: CtxDep) -> Response:
    """Create or replace a segment from the builder (rows, JSON, or a pasted list)."""
    form = await ctx.request.form()
    editing = text(form, "editing") == "1"
    mode = text(form, "mode")
    values = _form_values()
    values.update(
        key=text(form, "key", 100),
        name=text(form, "name"),
        mode=mode if mode in ("rules", "json", "static") else "rules",
        match="any" if text(form, "match") == "any" else "all",
        rows=rows_from_form(form),
        rules_json=text(form, "rules_json", MAX_JSON + 1),
        users=text(form, "users", 2_000_000),
    )
    try:
        body: dict[str, Any] = {"key": values["key"], "name": values["name"]}
        if values["mode"] == "static":
            body["users"] = _split_users(values["users"])
            if len(body["users"]) > STATIC_MOST:
                raise InvalidInput(
                    f"A static segment holds at most {STATIC_MOST:,} users.",
                    details={"field": "users"},
                )
        elif values["mode"] == "json":
            rules = json_object(values["rules_json"], "rules")
            if rules is None:
                raise InvalidInput("Give the rule tree as JSON.", details={"field": "rules"})
            body["rules"] = rules
        else:
            body["rules"] = rules_of(values["rows"], values["match"])
            values["rules_json"] = json.dumps(body["rules"], indent=2)
        spec = validated(SegmentIn, body)
        segment = await ctx.engine.personalization.segments.put(ctx.app_id, spec)
    except InvalidInput as exc:
        values["rows"] = values["rows"] or [Row()]
        return _render_form(ctx, values, editing=editing, error=explain(exc))
    return hx_redirect(ctx.request, f"/dashboard/segments/{quote(segment.key, safe='')}?saved=1")


@router.get("/segments/{key}")
async def segment_page(
    ctx: CtxDep,
    key: str,
    after: Annotated[str | None, Query(max_length=200)] = None,
    days: Annotated[int, Query(ge=1, le=3650)] = 90,
) -> Response:
    """A segment: its definition, members now (paginated) and its size per day."""
    found = ctx.engine.personalization.segments
    segment = await found.get(ctx.app_id, plain(key, "key", 100))
    count, members, history = await asyncio.gather(
        found.count(ctx.app_id, segment.key),
        found.members(
            ctx.app_id, segment.key, limit=PAGE, cursor=plain(after or "", "after") or None
        ),
        found.history(ctx.app_id, segment.key, days),
    )
    chart = {
        "labels": [d.day for d in history.days],
        "values": [d.members for d in history.days],
        "label": "Members",
    }
    return ctx.render(
        "segment.html",
        segment=segment,
        count=count,
        members=members,
        history=history,
        chart=chart,
        after=after,
        days=days,
        rules_json=json.dumps(segment.rules, indent=2) if segment.rules is not None else "",
        saved=bool(ctx.request.query_params.get("saved")),
        show_controls=False,
    )


@router.post("/segments/{key}/delete")
async def delete_segment(ctx: CtxDep, key: str) -> Response:
    """Delete the segment (its snapshots and static members go with it)."""
    await ctx.engine.personalization.segments.delete(ctx.app_id, plain(key, "key", 100))
    return hx_redirect(
        ctx.request, f"/dashboard/segments?deleted={quote(plain(key, 'key', 100), safe='')}"
    )
