"""Write ``_endpoints.py``: one typed method per API operation, for both clients.

The API's routes are the source: path and query parameters with their types, the body
model, the response model. Run ``python -m sessionhub.client._generate`` after changing
the API; a test fails while the generated file is out of date.
"""

from __future__ import annotations

import datetime
import enum
import keyword
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

TARGET = Path(__file__).with_name("_endpoints.py")

# Operation names that read badly as a client method without their noun.
RENAMES = {
    "validate": "validate_session",
    "heartbeat": "heartbeat_session",
    "refresh": "refresh_session",
    "end": "end_session",
    "revoke": "revoke_session",
    "rotate": "rotate_session",
    "identify": "identify_device",
    "ingest": "send_events",
    "ingest_for_session": "send_session_events",
    "timeline": "session_events",
    "export": "export_records",
    "query": "query",
    "summary": "analytics_summary",
    "bounces": "bounced_sessions",
    "daily": "daily_stats",
    "funnel": "funnel",
    "paths": "paths",
    "retention": "retention",
    "workflows": "workflows",
    "journey": "journey",
    "metrics": "prometheus_metrics",
}


@dataclass
class Imports:
    """The names the generated module needs, by module."""

    names: dict[str, set[str]] = field(default_factory=dict)

    def add(self, module: str, name: str) -> str:
        self.names.setdefault(module, set()).add(name)
        return name

    def render(self) -> str:
        lines = []
        for module in sorted(self.names):
            names = ", ".join(sorted(self.names[module]))
            lines.append(f"from {module} import {names}")
        return "\n".join(lines)


def render_type(annotation: Any, imports: Imports) -> str:
    """Python source for a type annotation found on a route."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [render_type(arg, imports) for arg in args]
        return " | ".join(dict.fromkeys(parts))
    if origin is typing.Literal:
        return imports.add("typing", "Literal") + "[" + ", ".join(repr(a) for a in args) + "]"
    if origin is typing.Annotated:
        return render_type(args[0], imports)
    if origin in (list, dict, tuple, set):
        inner = ", ".join(render_type(arg, imports) for arg in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    if annotation is Any:
        return imports.add("typing", "Any")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        meta = annotation.__pydantic_generic_metadata__
        if meta["origin"] is not None:
            base = render_type(meta["origin"], imports)
            return base + "[" + ", ".join(render_type(a, imports) for a in meta["args"]) + "]"
        return imports.add(_public_module(annotation), annotation.__name__)
    if annotation in (datetime.datetime, datetime.date):
        return imports.add("datetime", annotation.__name__)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return imports.add(annotation.__module__, annotation.__name__)
    if isinstance(annotation, type):
        return annotation.__name__
    raise TypeError(f"Cannot render the type {annotation!r}")


def _public_module(model: type) -> str:
    """Where a model is imported from: ``sessionhub.models`` when it is exported there."""
    import sessionhub.models

    if getattr(sessionhub.models, model.__name__, None) is model:
        return "sessionhub.models"
    return model.__module__


def _api_routes(routes: list[BaseRoute]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # an included router (FastAPI 0.120+)
            found.extend(_api_routes(route.original_router.routes))
        # Mounted apps (the dashboard, /sdk files) are not part of the API.
    return found


def _name(route: APIRoute) -> str:
    return RENAMES.get(route.name, route.name)


def _arg(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


def _response(route: APIRoute, imports: Imports) -> tuple[str, str]:
    """(return type, parse expression) of an operation."""
    response_class = route.response_class
    raw = isinstance(response_class, type) and not issubclass(response_class, JSONResponse)
    if raw or route.path == "/metrics":
        return imports.add("httpx", "Response"), "RAW"
    if route.status_code == 204:
        return "None", "_none"
    model = route.response_model
    if model is None:
        return imports.add("typing", "Any"), "_json"
    rendered = render_type(model, imports)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return rendered, f"{rendered}.model_validate_json"
    adapter = "_" + re.sub(r"\W+", "_", rendered).strip("_").upper()
    return rendered, f"{adapter}.validate_json"


@dataclass
class Operation:
    name: str
    method: str
    path: str
    doc: str
    signature: list[str]
    path_args: list[str]
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: str | None
    content: bool
    returns: str
    parse: str


def operations(routes: list[BaseRoute], imports: Imports) -> list[Operation]:
    found = []
    for route in sorted(_api_routes(routes), key=lambda r: (r.path, sorted(r.methods or ()))):
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            found.append(_operation(route, method, imports))
    names = [op.name for op in found]
    clashes = {name for name in names if names.count(name) > 1}
    if clashes:
        raise ValueError(f"Two operations would share a client method name: {sorted(clashes)}")
    return found


def _operation(route: APIRoute, method: str, imports: Imports) -> Operation:
    dependant = route.dependant
    signature: list[str] = []
    path_args = []
    for param in dependant.path_params:
        signature.append(f"{_arg(param.name)}: str")
        path_args.append(param.name)
    body = None
    content = False
    if route.body_field is not None:
        annotation = route.body_field.field_info.annotation
        optional = not route.body_field.field_info.is_required()
        rendered = render_type(annotation, imports).replace(" | None", "")
        mapping = imports.add("collections.abc", "Mapping")
        any_ = imports.add("typing", "Any")
        kind = (
            f"{mapping}[str, {any_}]"
            if rendered.startswith("dict[")
            else f"{rendered} | {mapping}[str, {any_}]"
        )
        signature.append(f"body: {kind} | None = None" if optional else f"body: {kind}")
        body = "body"
    elif method in {"POST", "PUT", "PATCH"} and (route.openapi_extra or {}).get("requestBody"):
        signature.append("content: bytes")
        content = True
        media = list((route.openapi_extra or {})["requestBody"].get("content", {}))
        default = media[0] if media else "application/octet-stream"
        headers_default = f"content_type: str = {default!r}"
    keyword_only: list[str] = []
    query = []
    for param in dependant.query_params:
        rendered = render_type(param.field_info.annotation, imports)
        if "None" not in rendered.split(" | "):
            rendered += " | None"
        keyword_only.append(f"{_arg(param.name)}: {rendered} = None")
        query.append((param.alias, _arg(param.name)))
    headers = []
    if content:
        keyword_only.append(headers_default)
        headers.append(("content-type", "content_type"))
    for param in dependant.header_params:
        keyword_only.append(f"{_arg(param.name)}: str | None = None")
        headers.append((param.alias, _arg(param.name)))
    if keyword_only:
        signature.append("*")
        signature.extend(keyword_only)
    returns, parse = _response(route, imports)
    summary = (route.summary or route.description or route.name.replace("_", " ")).strip()
    doc = f"{method} {route.path}: {summary.splitlines()[0].rstrip('.')}."
    return Operation(
        _name(route),
        method,
        route.path,
        doc,
        signature,
        path_args,
        query,
        headers,
        body,
        content,
        returns,
        parse,
    )


def _method(op: Operation, asynchronous: bool) -> str:
    args = ", ".join(["self", *op.signature])
    path = op.path
    for name in op.path_args:
        path = path.replace("{" + name + "}", "{_path(" + _arg(name) + ")}")
    call = [f'"{op.method}"', f'f"{path}"' if op.path_args else f'"{path}"']
    if op.query:
        pairs = ", ".join(f'"{alias}": {name}' for alias, name in op.query)
        call.append(f"params={{{pairs}}}")
    if op.headers:
        pairs = ", ".join(f'"{alias}": {name}' for alias, name in op.headers)
        call.append(f"headers={{{pairs}}}")
    if op.body:
        call.append("json=body")
    if op.content:
        call.append("content=content")
    sender = "_raw" if op.parse == "RAW" else "_call"
    if op.parse != "RAW":
        call.append(f"parse={op.parse}")
    prefix = "async def" if asynchronous else "def"
    wait = "await " if asynchronous else ""
    return (
        f"    {prefix} {op.name}({args}) -> {op.returns}:\n"
        f'        """{op.doc}"""\n'
        f"        return {wait}self.{sender}({', '.join(call)})\n"
    )


def generate(routes: list[BaseRoute]) -> str:
    """The source of ``_endpoints.py`` for these routes."""
    imports = Imports()
    ops = operations(routes, imports)
    adapters = sorted({op.parse.split(".")[0] for op in ops if op.parse.endswith(".validate_json")})
    adapter_lines = []
    for op in ops:
        name = op.parse.split(".")[0]
        if name in adapters:
            adapters.remove(name)
            adapter_lines.append(f"{name} = TypeAdapter({op.returns})")
    if adapter_lines:
        imports.add("pydantic", "TypeAdapter")
    parts = [
        '"""Generated by ``python -m sessionhub.client._generate`` from the API: do not edit."""',
        "",
        "from __future__ import annotations",
        "",
        imports.render(),
        "from sessionhub.client._transport import AsyncTransport, Transport, _json, _none, _path",
        "",
        *adapter_lines,
        "",
        "",
        "class AsyncEndpoints(AsyncTransport):",
        '    """Every API operation as an awaitable method."""',
        "",
        *(_method(op, True) for op in ops),
        "",
        "class Endpoints(Transport):",
        '    """Every API operation as a blocking method."""',
        "",
        *(_method(op, False) for op in ops),
    ]
    return "\n".join(parts).rstrip() + "\n"


def api_routes() -> list[BaseRoute]:
    """The routes of the API app (no database is opened)."""
    from sessionhub import Engine, Settings
    from sessionhub.api import create_app

    app = create_app(Engine(Settings(database_url="sqlite://")), run_worker=False)
    return list(app.routes)


def main() -> None:
    source = generate(api_routes())
    formatted = _format(source)
    TARGET.write_text(formatted)
    sys.stdout.write(f"wrote {TARGET}\n")


def _format(source: str) -> str:
    """Sort imports and format as ruff does, so the file passes the checks as written."""
    import subprocess

    ruff = str(Path(sys.executable).with_name("ruff"))
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        done = subprocess.run(
            [ruff, *command, "--stdin-filename", str(TARGET), "-"],
            input=source.encode(),
            capture_output=True,
            check=True,
        )
        source = done.stdout.decode()
    return source


if __name__ == "__main__":
    main()
