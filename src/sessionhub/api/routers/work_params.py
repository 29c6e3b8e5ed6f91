"""What the work-session routes share: the acting user, versions (ETag / If-Match), path ids."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel

from sessionhub.api.auth import app_id_of, get_engine, secret_key
from sessionhub.api.params import SecretCaller
from sessionhub.api.responses import json_response
from sessionhub.core.apps import Caller
from sessionhub.core.engine import Engine
from sessionhub.core.work import Work
from sessionhub.core.work.access import check_actor
from sessionhub.errors import InvalidInput

# Read from the request, not declared as a parameter or security scheme: a generated value
# would make the OpenAPI fuzzer act as arbitrary users (and open endless live streams).
ACTOR_HEADER = "X-Sessionhub-User"


@dataclass(frozen=True, slots=True)
class Actor:
    """A work-session call: the app (from the secret key), the acting user and the engine."""

    app_id: str
    user_id: str
    engine: Engine

    @property
    def work(self) -> Work:
        return self.engine.work


async def acting_user(request: Request, caller: Annotated[Caller, Depends(secret_key)]) -> Actor:
    """The secret key's app and the user named by X-Sessionhub-User (401 actor_required)."""
    header = request.headers.get(ACTOR_HEADER)
    return Actor(app_id_of(caller), check_actor(header), get_engine(request))


WorkCaller = Annotated[Actor, Depends(acting_user)]
GoalPath = Annotated[str, Path(description="The goal id.", max_length=40)]
MilestonePath = Annotated[str, Path(description="The milestone id.", max_length=40)]
BlockerPath = Annotated[str, Path(description="The blocker id.", max_length=40)]
CommentPath = Annotated[str, Path(description="The comment id.", max_length=40)]
AttachmentPath = Annotated[str, Path(description="The attachment id.", max_length=40)]
TemplatePath = Annotated[str, Path(description="The template id.", max_length=40)]

_VERSION = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def if_match(request: Request) -> int | None:
    """The version an If-Match header names (None without one, or for ``*``); else 422.

    Read from the request rather than declared (like the acting user): the OpenAPI fuzzer
    would send header values no HTTP client can encode.
    """
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    found = _VERSION.match(raw)
    if found is None:
        raise InvalidInput(
            'If-Match must be a version as given in the ETag, e.g. "3".',
            details={"field": "If-Match"},
        )
    return int(found.group(1))


IfMatch = Annotated[int | None, Depends(if_match)]


def versioned(body: BaseModel, version: int, status: int = 200) -> Response:
    """A JSON response carrying the version as its ETag."""
    return json_response(body, status=status, headers={"ETag": f'"{version}"'})


__all__ = ["SecretCaller", "WorkCaller"]
