"""Schemathesis over the app's own OpenAPI document: no 5xx, and every answer as documented.

Each operation gets a bounded number of generated requests (derandomized, so a run is
repeatable) against the ASGI app, authenticated with a secret key (an admin key for app
and key management). The checks: no server error, the status is documented, the body
matches the documented schema and the content type is the documented one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from sessionhub import Engine, FakeClock, Settings
from sessionhub.api import create_app
from tests.conftest import bearer

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
)
MAX_EXAMPLES = int(os.environ.get("SESSIONHUB_FUZZ_EXAMPLES", "15"))
ADMIN_PATHS = ("/v1/apps", "/v1/keys")

# FastAPI writes OpenAPI 3.1 (nullable fields as anyOf with null), which schemathesis 3
# reads once asked to.
schemathesis.experimental.OPEN_API_3_1.enable()


@schemathesis.serializer("application/x-ndjson")
class JsonLines:
    """Send a generated JSON-lines body (a string in the schema) as it is."""

    def as_requests(self, context: Any, value: Any) -> dict[str, Any]:
        text = value if isinstance(value, str) else json.dumps(value)
        return {"data": text.encode()}

    def as_werkzeug(self, context: Any, value: Any) -> dict[str, Any]:
        return self.as_requests(context, value)


async def _issue_keys(engine: Engine) -> dict[str, str]:
    app = await engine.apps.create("fuzz")
    secret = await engine.keys.issue("secret", app.id)
    admin = await engine.keys.issue("admin")
    return {"secret": secret.token, "admin": admin.token}


def fuzz(operation: Any, client: TestClient, headers: dict[str, str]) -> Callable[[], None]:
    """A Hypothesis test sending generated requests for ``operation`` and checking each answer."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        if isinstance(kwargs.get("data"), bytes | str):  # raw bodies: httpx calls it content
            kwargs["content"] = kwargs.pop("data")
        response = client.request(**kwargs)
        case.validate_response(response, checks=CHECKS)

    return run  # type: ignore[no-any-return]


def without_recursion(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the analytics filter tree cut to one level of nesting.

    schemathesis 3 cannot generate from recursive schemas, and filters nest (and/or/not of
    filters). Here the nested ones may only hold leaf filters: still a subset of what the API
    takes, so every generated request is valid for the real schema. Deeper nesting is tested
    in tests/analytics.
    """
    document = json.loads(json.dumps(document))
    schemas = document["components"]["schemas"]
    leaves = [{"$ref": "#/components/schemas/Condition"}, {"$ref": "#/components/schemas/Did"}]
    schemas["AllOf"]["properties"]["and"]["items"] = {"oneOf": leaves}
    schemas["AnyOf"]["properties"]["or"]["items"] = {"oneOf": leaves}
    schemas["Not"]["properties"]["not"] = {"oneOf": leaves}
    return document


def test_every_operation_answers_as_its_openapi_document_says(
    database_url: str, tmp_path: Path
) -> None:
    """Generated requests to every operation never get a 5xx or an answer the document does not describe."""
    engine = Engine(
        Settings(database_url=database_url, data_dir=tmp_path, run_worker=False, app_cache_s=0),
        clock=FakeClock(),
    )
    app = create_app(engine, run_worker=False, manage_engine=True)
    schema = schemathesis.from_dict(without_recursion(app.openapi()), app=app)
    failures: list[str] = []
    started = time.perf_counter()
    with TestClient(app, base_url="http://testserver") as client:
        tokens = client.portal.call(_issue_keys, engine)
        for result in schema.get_all_operations():
            operation = result.ok()
            kind = "admin" if operation.path.startswith(ADMIN_PATHS) else "secret"
            try:
                fuzz(operation, client, bearer(tokens[kind]))()
            except Exception as exc:
                failures.append(f"{operation.verbose_name}: {exc}")
    elapsed = time.perf_counter() - started
    report = "\n\n".join(failures)
    assert [] == failures, f"{len(failures)} operations failed in {elapsed:.1f}s:\n{report}"
