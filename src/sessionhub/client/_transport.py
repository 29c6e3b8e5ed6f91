"""The wire under both clients: requests, retries with backoff, errors mapped to classes.

An error body ``{"error": {"code", "message", "details"}}`` is raised as the class of
``sessionhub.errors`` with that code, so ``except sessionhub.NotFound`` reads the same
in-process and over HTTP.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import orjson

from sessionhub import errors
from sessionhub._version import __version__

# Methods that mean the same when sent twice. POST is retried only when the request
# never reached the server (a refused connection), or was refused by rate limiting.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
USER_AGENT = f"sessionhub-python/{__version__}"
T = TypeVar("T")


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a failed call is tried again."""

    attempts: int = 3
    backoff_s: float = 0.25
    max_backoff_s: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before try ``attempt + 1``: the server's word, else jittered backoff."""
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff_s)
            except ValueError:
                pass
        ceiling = min(self.backoff_s * 2**attempt, self.max_backoff_s)
        return random.uniform(ceiling / 2, ceiling)


def error_from(response: httpx.Response) -> errors.SessionhubError:
    """The error a failed response stands for, as the class the server raised."""
    try:
        body = orjson.loads(response.content)["error"]
        code, message = str(body["code"]), str(body["message"])
        details = body.get("details") or {}
    except (orjson.JSONDecodeError, KeyError, TypeError):
        code, message, details = "", response.text[:500] or response.reason_phrase, {}
    cls = errors.error_class_for(code, response.status_code)
    details = details if isinstance(details, dict) else {"details": details}
    return cls(message, details=details, code=code if code and code != cls.code else None)


def _path(value: str) -> str:
    return quote(str(value), safe="")


def _json(content: bytes) -> Any:
    return orjson.loads(content) if content else None


def _none(content: bytes) -> None:
    return None


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    query = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif isinstance(value, datetime.datetime):
            query[name] = value.isoformat()
        else:
            query[name] = str(value)
    return query


def _body(json: Any) -> bytes | None:
    if json is None:
        return None
    if hasattr(json, "model_dump"):
        json = json.model_dump(mode="json", exclude_unset=True)
    return orjson.dumps(json)


def _headers(headers: Mapping[str, str | None] | None, has_json: bool) -> dict[str, str]:
    sent = {name: value for name, value in (headers or {}).items() if value is not None}
    if has_json:
        sent["content-type"] = "application/json"
    return sent


def _retryable(method: str, status: int | None, error: Exception | None) -> bool:
    if status == 429:
        return True
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return True  # the request never reached the server
    if method not in IDEMPOTENT:
        return False
    if error is not None:
        return isinstance(error, httpx.TransportError)
    return status in RETRY_STATUSES


def _wait_or_raise(
    retry: Retry,
    attempt: int,
    request: httpx.Request,
    outcome: httpx.Response | httpx.TransportError,
) -> float | None:
    """What to do after try ``attempt``: None (a success: done), seconds to wait, or raise."""
    method, path = request.method, request.url.path
    last = attempt + 1 >= retry.attempts
    if isinstance(outcome, httpx.TransportError):
        if last or not _retryable(method, None, outcome):
            raise errors.StorageError(
                f"Sessionhub did not answer {method} {path}: {outcome}",
                details={"reason": type(outcome).__name__},
            ) from outcome
        return retry.delay(attempt)
    if outcome.is_success:
        return None
    if last or not _retryable(method, outcome.status_code, None):
        raise error_from(outcome)
    return retry.delay(attempt, outcome.headers.get("retry-after"))


def _base_headers(key: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    base = {"user-agent": USER_AGENT, "accept": "application/json"}
    if key:
        base["authorization"] = f"Bearer {key}"
    base.update(headers or {})
    return base


class Transport:
    """A blocking connection to a Sessionhub server."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        key: str | None = None,
        *,
        timeout: float = 10.0,
        retry: Retry | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.retry = retry or Retry()
        self.http = httpx.Client(
            base_url=base_url,
            headers=_base_headers(key, headers),
            timeout=timeout,
            transport=transport,
        )

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str | None] | None,
        json: Any,
        content: bytes | None,
    ) -> httpx.Response:
        payload = _body(json) if content is None else content
        request = self.http.build_request(
            method,
            path,
            params=_query(params),
            headers=_headers(headers, json is not None),
            content=payload,
        )
        for attempt in range(self.retry.attempts):
            try:
                response: httpx.Response | httpx.TransportError = self.http.send(request)
            except httpx.TransportError as exc:
                response = exc
            wait = _wait_or_raise(self.retry, attempt, request, response)
            if wait is None:
                assert isinstance(response, httpx.Response)
                return response
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt raises")

    def _call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[bytes], T],
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> T:
        return parse(self._send(method, path, params, headers, json, content).content)

    def _raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        return self._send(method, path, params, headers, json, content)

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncTransport:
    """An asyncio connection to a Sessionhub server."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        key: str | None = None,
        *,
        timeout: float = 10.0,
        retry: Retry | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.retry = retry or Retry()
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers=_base_headers(key, headers),
            timeout=timeout,
            transport=transport,
        )

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str | None] | None,
        json: Any,
        content: bytes | None,
    ) -> httpx.Response:
        payload = _body(json) if content is None else content
        request = self.http.build_request(
            method,
            path,
            params=_query(params),
            headers=_headers(headers, json is not None),
            content=payload,
        )
        for attempt in range(self.retry.attempts):
            try:
                response: httpx.Response | httpx.TransportError = await self.http.send(request)
            except httpx.TransportError as exc:
                response = exc
            wait = _wait_or_raise(self.retry, attempt, request, response)
            if wait is None:
                assert isinstance(response, httpx.Response)
                return response
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt raises")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[bytes], T],
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> T:
        response = await self._send(method, path, params, headers, json, content)
        return parse(response.content)

    async def _raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        return await self._send(method, path, params, headers, json, content)

    async def close(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
