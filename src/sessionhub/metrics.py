"""Prometheus metrics, exported at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "sessionhub_http_requests_total",
    "HTTP requests by route, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "sessionhub_http_request_seconds",
    "HTTP request latency by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
ACTIVE_SESSIONS = Gauge(
    "sessionhub_active_sessions", "Sessions active at the last worker run, all apps."
)
WRITE_QUEUE_DEPTH = Gauge(
    "sessionhub_write_queue_depth", "Writes waiting for the group-commit writer."
)
COMMIT_BATCH_SIZE = Histogram(
    "sessionhub_commit_batch_size",
    "Writes committed together in one transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
WORKER_JOB_RUNS = Counter(
    "sessionhub_worker_job_runs_total", "Worker job runs by job and outcome.", ["job", "outcome"]
)
WORKER_JOB_ITEMS = Counter(
    "sessionhub_worker_job_items_total", "Rows a worker job changed.", ["job"]
)
