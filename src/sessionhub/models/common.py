"""Shared pieces of the data shapes: base classes, common field types, pages.

Input models forbid unknown fields and are strict about types, so a typo or a string
where a number belongs is a 422 that names the field, not a silent default.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SessionKind = Literal["visit", "conversation", "work"]

# A caller-chosen session id: letters, digits and . _ : - (no spaces, no slashes).
SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$"
SessionId = Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Url = Annotated[str, StringConstraints(max_length=2048)]
Seconds = Annotated[int, Field(ge=1, le=10 * 365 * 86400)]

T = TypeVar("T")


class Input(BaseModel):
    """Base of request bodies: strict types, unknown fields rejected, only storable JSON."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        problem = unstorable(data)
        if problem is not None:
            raise ValueError(problem)
        return data


class BulkInput(BaseModel):
    """Base of inputs validated by the thousand: Input's strictness without its per-model hook.

    A before-validator costs a few microseconds per model. Callers validating many at once
    check what the database can hold themselves: an event batch in ``core.events.prepare``
    (from the JSON it encodes anyway, ``unstorable`` only for the rare event that fails),
    and event by event when the batch fails validation (``core.events.validate_events``).
    """

    model_config = ConfigDict(extra="forbid", strict=True)


# What every backend can store: PostgreSQL text and JSONB cannot hold U+0000, and the JSON
# encoder takes integers of at most 64 bits and nesting of at most 255 levels.
MAX_JSON_DEPTH = 100
_INT_RANGE = (-(2**63), 2**64 - 1)


def unstorable(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored as it is (and where), or None if it can."""
    return _unstorable(value, ())


def _clean_json(value: Any) -> bytes | None:
    """``value`` as JSON, or None when it holds a NUL character or a value orjson refuses.

    orjson refuses integers past 64 bits and nesting past 255 levels, and writes NUL as
    ``\\u0000``.
    """
    try:
        dumped = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    return None if b"\\u0000" in dumped else dumped


def _unstorable(value: Any, at: tuple[str | int, ...]) -> str | None:
    # Fast path, one C-level pass (``_clean_json``): a value with fewer brackets than the
    # depth left cannot nest too deep. A list or object that fails it (a batch of many small
    # objects has many brackets but no depth) has its items checked the same way, one level
    # down; anything else is walked below to say where.
    dumped = _clean_json(value)
    if dumped is not None and dumped.count(b"{") + dumped.count(b"[") < MAX_JSON_DEPTH - len(at):
        return None
    kind = type(value)
    if (kind is list or kind is dict) and len(at) < MAX_JSON_DEPTH:
        for key, item in enumerate(value) if kind is list else value.items():
            if type(key) is str and "\x00" in key:
                return f"NUL characters (\\u0000) are not allowed (in a key at {_where(at)})"
            problem = _unstorable(item, (*at, key))
            if problem is not None:
                return problem
        return None
    stack: list[tuple[tuple[str | int, ...], Any]] = [(at, value)]
    while stack:
        path, item = stack.pop()
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                return f"NUL characters (\\u0000) are not allowed (at {_where(path)})"
        elif kind is int:
            if not _INT_RANGE[0] <= item <= _INT_RANGE[1]:
                return f"integers must fit in 64 bits (at {_where(path)})"
        elif kind is dict or kind is list:
            if len(path) >= MAX_JSON_DEPTH:
                return (
                    f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep (at {_where(path)})"
                )
            if kind is dict:
                for key, child in item.items():
                    if type(key) is str and "\x00" in key:
                        return (
                            f"NUL characters (\\u0000) are not allowed (in a key at {_where(path)})"
                        )
                    stack.append(((*path, key), child))
            else:
                stack.extend(((*path, i), child) for i, child in enumerate(item))
    return None


def _where(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path) or "the top level"


class Output(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(extra="forbid")


class Page(Output, Generic[T]):
    """A page of a list; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None
