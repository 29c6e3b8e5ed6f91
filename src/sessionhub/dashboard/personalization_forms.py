"""Form input of the personalization pages: fields, typed values, models, errors to show.

A form that fails validation is shown again with what was typed and what was wrong (a
422 page with the form), never a 500 and never a half-made object.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from sessionhub.dashboard.web import Ctx
from sessionhub.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

MAX_TEXT = 200
MAX_JSON = 20_000


def text(form: FormData, name: str, limit: int = MAX_TEXT) -> str:
    """A form field as stripped text ("" when missing), cut at ``limit`` characters."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def texts(form: FormData, name: str, limit: int = MAX_TEXT, most: int = 100) -> list[str]:
    """Every value of a repeated field (rows of a builder), stripped, in order."""
    return [v.strip()[:limit] if isinstance(v, str) else "" for v in form.getlist(name)[:most]]


def plain(value: str, field: str, limit: int = MAX_TEXT) -> str:
    """An id from the URL as the database can hold it; a 422 naming it when it cannot be."""
    if "\x00" in value or len(value) > limit:
        raise InvalidInput(
            f"{field} must be at most {limit} characters, without NUL.", details={"field": field}
        )
    return value


def number(value: str, field: str, *, whole: bool = False) -> float:
    """A number typed in a form; a 422 naming the field when it is not one."""
    try:
        parsed = int(value) if whole else float(value)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise InvalidInput(f"{field} must be {kind}.", details={"field": field}) from None
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise InvalidInput(f"{field} must be a finite number.", details={"field": field})
    return parsed


def scalar(value: str) -> Any:
    """A value typed in a condition: JSON when it reads as JSON (42, true, "42"), else text."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, str | int | float | bool) or parsed is None else value


def shown(value: Any) -> str:
    """The text that ``scalar`` reads back as ``value`` (strings that look like JSON quoted)."""
    if isinstance(value, str):
        return value if scalar(value) == value else json.dumps(value)
    return json.dumps(value)


def json_object(raw: str, field: str) -> dict[str, Any] | None:
    """A JSON object typed in a text area; None when blank; a 422 naming the field when not."""
    if not raw.strip():
        return None
    if len(raw) > MAX_JSON:
        raise InvalidInput(f"{field} is too long.", details={"field": field})
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"{field} is not valid JSON: {exc.args[0]}", details={"field": field}
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object.", details={"field": field})
    return value


def validated(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``, or the 422 the API answers for the same body."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc


def explain(exc: InvalidInput) -> str:
    """What was wrong, for the page: every field the validation named, else the message."""
    errors = exc.details.get("errors")
    if isinstance(errors, list) and errors:
        parts = []
        for error in errors[:5]:
            if isinstance(error, dict):
                where = ".".join(str(p) for p in error.get("loc", ()))
                parts.append(f"{where}: {error.get('message', '')}" if where else "")
        found = "; ".join(p for p in parts if p)
        if found:
            return found
    return exc.message


def actor(ctx: Ctx) -> str:
    """Who the audit log names for a change made in the dashboard."""
    return f"dashboard:{ctx.login.key_id}"
