"""Operations endpoints: liveness, readiness and Prometheus metrics that move with the traffic."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sessionhub import Engine, FakeClock, Settings, StorageError
from sessionhub.api import create_app
from sessionhub.models import SessionCreate
from sessionhub.worker import Worker
from tests.conftest import Keys, bearer

METRIC_NAMES = {
    "sessionhub_http_requests",
    "sessionhub_http_request_seconds",
    "sessionhub_active_sessions",
    "sessionhub_write_queue_depth",
    "sessionhub_commit_batch_size",
    "sessionhub_worker_job_runs",
}


async def scrape(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    response = await api.get("/metrics")
    assert 200 == response.status_code
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_healthz_answers_ok(api: httpx.AsyncClient) -> None:
    """The liveness probe needs no key and answers ok."""
    response = await api.get("/healthz")
    assert (200, {"status": "ok"}) == (response.status_code, response.json())


async def test_readyz_names_the_reachable_database(api: httpx.AsyncClient, engine: Engine) -> None:
    """The readiness probe answers ready with the backend it reached."""
    response = await api.get("/readyz")
    assert (200, {"status": "ready", "database": engine.db.dialect}) == (
        response.status_code,
        response.json(),
    )


async def test_readyz_is_503_when_the_database_does_not_answer(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the database gone after start, readiness is 503 storage_unavailable in the error shape."""

    async def gone() -> None:
        raise StorageError("The database is unavailable.")

    monkeypatch.setattr(engine.db, "ping", gone)
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/readyz")
    assert (503, "storage_unavailable") == (
        response.status_code,
        response.json()["error"]["code"],
    )


async def test_an_engine_does_not_start_on_a_database_that_does_not_answer() -> None:
    """Start fails fast with StorageError (it checks the audit salt and encryption keys)."""
    engine = Engine(
        Settings(database_url="postgresql://postgres@127.0.0.1:1/none", run_worker=False),
        clock=FakeClock(),
    )
    try:
        with pytest.raises(StorageError):
            await engine.start(migrate=False)
    finally:
        await engine.close()


async def test_metrics_lists_every_documented_metric(api: httpx.AsyncClient) -> None:
    """The Prometheus page carries the request, latency, session, queue, batch and worker metrics."""
    await api.get("/healthz")
    response = await api.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert METRIC_NAMES <= names


async def test_request_metrics_count_each_request_by_route_template(
    api: httpx.AsyncClient, keys: Keys
) -> None:
    """Three creates add three to the count of that route, method and status, and to its latency count."""
    before = await scrape(api)
    for _ in range(3):
        await api.post("/v1/sessions", json={}, headers=bearer(keys.publishable))
    created = (await api.post("/v1/sessions", json={}, headers=bearer(keys.publishable))).json()
    await api.get(f"/v1/sessions/{created['id']}", headers=bearer(keys.secret))
    after = await scrape(api)
    labels = {"route": "/v1/sessions", "method": "POST", "status": "201"}
    assert 4 == value(after, "sessionhub_http_requests_total", **labels) - value(
        before, "sessionhub_http_requests_total", **labels
    )
    by_id = {"route": "/v1/sessions/{session_id}", "method": "GET", "status": "200"}
    assert 1 == value(after, "sessionhub_http_requests_total", **by_id) - value(
        before, "sessionhub_http_requests_total", **by_id
    )
    latency = "sessionhub_http_request_seconds_count"
    assert 4 <= value(after, latency, route="/v1/sessions") - value(
        before, latency, route="/v1/sessions"
    )
    assert not any(created["id"] in str(key) for key in after)


async def test_unmatched_paths_share_one_label(api: httpx.AsyncClient) -> None:
    """Requests to unknown paths are counted under one label, so random paths cannot grow the metrics."""
    before = await scrape(api)
    for path in ["/nope/1", "/nope/2"]:
        await api.get(path)
    after = await scrape(api)
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    assert 2 == value(after, "sessionhub_http_requests_total", **labels) - value(
        before, "sessionhub_http_requests_total", **labels
    )
    assert not any("/nope/" in str(key) for key in after)


async def test_commit_batches_and_worker_runs_are_counted(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Writes add to the commit-batch histogram; a worker run counts its jobs and sets active sessions."""
    before = await scrape(api)
    for _ in range(2):
        await engine.sessions.create(keys.app_id, SessionCreate())
    await Worker(engine).run_once()
    after = await scrape(api)
    batches = "sessionhub_commit_batch_size_count"
    assert 2 <= value(after, batches) - value(before, batches)
    runs = "sessionhub_worker_job_runs_total"
    labels = {"job": "expire_sessions", "outcome": "ok"}
    assert 1 == value(after, runs, **labels) - value(before, runs, **labels)
    assert 2 == value(after, "sessionhub_active_sessions")


@pytest.mark.parametrize("on", [False, True])
async def test_opentelemetry_is_asked_per_request_only_when_turned_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, on: bool
) -> None:
    """With SESSIONHUB_OPENTELEMETRY off (the default) no request looks for a tracer provider."""
    from opentelemetry import trace

    asked: list[int] = []
    real = trace.get_tracer_provider

    def counting() -> trace.TracerProvider:
        asked.append(1)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    monkeypatch.setattr(engine, "settings", dataclasses.replace(engine.settings, opentelemetry=on))
    app = create_app(engine, run_worker=False, manage_engine=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as api:
        for _ in range(3):
            assert 200 == (await api.get("/healthz")).status_code
    assert (len(asked) >= 3) == on
