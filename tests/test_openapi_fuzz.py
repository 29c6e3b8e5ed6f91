"""Schemathesis over the app's own OpenAPI document: no 5xx, and every answer as documented.

Each operation gets a bounded number of generated requests (derandomized, so a run is
repeatable) against the ASGI app, authenticated with a secret key (an admin key for app
and key management). Every check schemathesis has runs on each answer: no server error,
a documented status, content type, headers and body schema, and ``ignored_auth`` (the same
request without the key, and with a made-up one, must be a 401). A stateful run then
follows links between the session operations (create, read, heartbeat, rotate, delete)
with ``use_after_free`` (a deleted session is a 404 from then on) and
``ensure_resource_availability`` (a created session can be used at once).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import requests
import requests.structures
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from schemathesis.checks import ALL_CHECKS
from schemathesis.specs.openapi.checks import ensure_resource_availability, use_after_free
from schemathesis.transports import RequestsTransport
from starlette.testclient import TestClient

from sessionhub import Engine, FakeClock, Settings
from sessionhub.api import create_app
from tests.conftest import bearer

# Every check schemathesis 3 has: its defaults and optional ones (ALL_CHECKS: not_a_server_error,
# status code, content type, response headers and schema conformance, negative_data_rejection,
# ignored_auth) and the two that follow links (use_after_free, ensure_resource_availability).
CHECKS = (*ALL_CHECKS, use_after_free, ensure_resource_availability)
# Per operation. Every 2xx costs two more requests (ignored_auth resends it without the key
# and with a made-up one), and there are ~190 operations: 5 keeps a run near a minute.
MAX_EXAMPLES = int(os.environ.get("SESSIONHUB_FUZZ_EXAMPLES", "5"))
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


def send(client: TestClient, case: Any, headers: dict[str, str] | None) -> Any:
    """Send ``case`` through ``client`` (the app already started, on its own event loop)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    if isinstance(kwargs.get("data"), bytes | str):  # raw bodies: httpx calls it content
        kwargs["content"] = kwargs.pop("data")
    return as_requests(client.request(**kwargs))


def as_requests(response: httpx.Response) -> requests.Response:
    """The httpx response as a ``requests`` one: the shape schemathesis 3's checks read."""
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method=response.request.method,
        url=str(response.request.url),
        headers=dict(response.request.headers),
        data=response.request.content or None,
    )
    converted = requests.Response()
    converted.status_code = response.status_code
    converted.headers = requests.structures.CaseInsensitiveDict(response.headers)
    converted._content = response.content
    converted.url = str(response.request.url)
    converted.request = prepared
    converted.encoding = response.encoding
    return converted


class ThroughClient(RequestsTransport):
    """The transport ``ignored_auth`` resends requests with (without the key, with a bad one).

    schemathesis's own ASGI transport would start the app a second time, on another event
    loop; this one uses the client the test already runs the app in.
    """

    def __init__(self, client: TestClient):
        self.client = client

    def send(self, case: Any, *, headers: dict[str, str] | None = None, **_: Any) -> Any:  # type: ignore[override]
        return send(self.client, case, headers)


def check(case: Any, response: Any, headers: dict[str, str]) -> None:
    """Run every check on ``response``; ``headers`` hold the key, as ignored_auth needs to know."""
    case.validate_response(
        response, checks=CHECKS, headers=headers, transport_kwargs={"headers": headers}
    )


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
        # A header value HTTP cannot carry (non-ASCII If-Match …) is no request at all.
        assume(all(str(value).isascii() for value in (case.headers or {}).values()))
        check(case, send(client, case, headers), headers)

    return run  # type: ignore[no-any-return]


def without_recursion(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the analytics filter tree cut to one level of nesting.

    schemathesis 3 cannot generate from recursive schemas, and filters nest (and/or/not of
    filters). Here the nested ones may only hold leaf filters: still a subset of what the API
    takes, so every generated request is valid for the real schema. Deeper nesting is tested
    in tests/analytics.
    """
    document = json.loads(json.dumps(document))
    _inclusive_bounds(document)
    schemas = document["components"]["schemas"]
    leaves = [{"$ref": "#/components/schemas/Condition"}, {"$ref": "#/components/schemas/Did"}]
    schemas["AllOf"]["properties"]["and"]["items"] = {"oneOf": leaves}
    schemas["AnyOf"]["properties"]["or"]["items"] = {"oneOf": leaves}
    schemas["Not"]["properties"]["not"] = {"oneOf": leaves}
    return document


def _inclusive_bounds(node: Any) -> None:
    """Turn OpenAPI 3.1 exclusive bounds (``exclusiveMinimum: 0``) into inclusive ones, in place.

    schemathesis 3 rewrites them the 3.0 way (``minimum: 0, exclusiveMinimum: true``) and then
    reads ``true`` as the number 1, so a valid 0.5 in a response "violates" the schema. The
    inclusive bound is a little looser; the server still refuses the bound itself with a 422.
    """
    if isinstance(node, dict):
        for name, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            bound = node.get(name)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                del node[name]
                node[inclusive] = bound
        for child in node.values():
            _inclusive_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _inclusive_bounds(child)


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
        schema.transport = ThroughClient(client)  # type: ignore[assignment]
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


SESSION = "/v1/sessions/{session_id}"


def link_session_operations(schema: Any) -> None:
    """OpenAPI links between the session operations: a created session's id flows on to its
    reads and changes, and a deleted one's to the calls that must then be 404s."""
    created = {"path.session_id": "$response.body#/id"}
    same = {"path.session_id": "$request.path.session_id"}
    targets = [
        (SESSION, "GET"),
        (SESSION, "PATCH"),
        (f"{SESSION}/heartbeat", "POST"),
        (f"{SESSION}/validate", "POST"),
        (f"{SESSION}/rotate", "POST"),
        (f"{SESSION}/revoke", "POST"),
        (f"{SESSION}/events", "GET"),
        (SESSION, "DELETE"),
    ]
    for path, method in targets:
        schema.add_link(
            source=schema["/v1/sessions"]["POST"],
            target=schema[path][method],
            status_code="201",
            parameters=created,
        )
    for path, method in targets:
        schema.add_link(
            source=schema[SESSION]["DELETE"],
            target=schema[path][method],
            status_code="204",
            parameters=same,
        )


def test_session_operations_follow_their_links_without_use_after_free(
    database_url: str, tmp_path: Path
) -> None:
    """Chains of create, read, change and delete calls pass every check; a deleted session stays a 404."""
    engine = Engine(
        Settings(database_url=database_url, data_dir=tmp_path, run_worker=False, app_cache_s=0),
        clock=FakeClock(),
    )
    app = create_app(engine, run_worker=False, manage_engine=True)
    schema = schemathesis.from_dict(without_recursion(app.openapi()), app=app).include(
        path_regex=r"^/v1/sessions(/\{session_id\}(/(heartbeat|validate|rotate|revoke|events))?)?$"
    )
    link_session_operations(schema)
    with TestClient(app, base_url="http://testserver") as client:
        schema.transport = ThroughClient(client)
        headers = bearer(client.portal.call(_issue_keys, engine)["secret"])

        class Sessions(schema.as_state_machine()):  # type: ignore[misc]
            @rule()
            def wait(self) -> None:
                """Nothing: a step always possible when a create was refused (422) and no
                link has a session to follow, where Hypothesis would stop with an error."""

            def _add_results_to_targets(self, targets: Any, results: Any) -> None:
                # schemathesis 3 files each response under its link's bundle by overriding
                # the singular _add_result_to_targets that Hypothesis (6.13x on) no longer calls.
                for result in results:
                    target = self._get_target_for_result(result) if result is not None else None
                    RuleBasedStateMachine._add_results_to_targets(
                        self, (target,) if target else targets, [result]
                    )

            def call(self, case: Any, **kwargs: Any) -> Any:
                # The security scheme makes schemathesis generate an Authorization header of
                # its own: the valid key replaces it.
                case.headers = {**(case.headers or {}), **headers}
                return send(client, case, headers)

            def validate_response(
                self, response: Any, case: Any, additional_checks: tuple[Any, ...] = ()
            ) -> None:
                check(case, response, headers)

        run_state_machine_as_test(
            Sessions,
            settings=settings(
                max_examples=MAX_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        )
