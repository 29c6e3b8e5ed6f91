"""The error tree: every failure Sessionhub reports, with its HTTP status and code.

    SessionhubError                 500 internal_error
    ├── InvalidInput                422 invalid_input
    ├── BadRequest                  400 bad_request
    ├── Unauthorized                401 unauthorized
    ├── Forbidden                   403 forbidden
    │   └── ConsentRequired         403 consent_required
    ├── NotFound                    404 not_found
    ├── Conflict                    409 conflict
    │   ├── SessionEnded            409 session_ended
    │   └── SessionLimitReached     409 session_limit_reached
    ├── PayloadTooLarge             413 payload_too_large
    ├── RateLimited                 429 rate_limited
    └── StorageError                503 storage_unavailable

The API renders these in one place; the client maps them back by code, so
``except sessionhub.NotFound`` works on both sides of the wire.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SessionhubError(Exception):
    """Base of every error Sessionhub raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        """Render as the wire shape ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(SessionhubError):
    status = 422
    code = "invalid_input"

    @classmethod
    def from_validation(cls, exc: Any, prefix: tuple[str | int, ...] = ()) -> InvalidInput:
        """Build from a pydantic (or FastAPI request) ValidationError, naming every wrong field."""
        try:
            errors = exc.errors(include_url=False, include_input=False)
        except TypeError:  # FastAPI's RequestValidationError.errors() takes no options
            errors = exc.errors()
        problems = [
            {
                "loc": [*prefix, *err.get("loc", ())],
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in errors
        ]
        where = ", ".join(".".join(str(p) for p in item["loc"]) or "body" for item in problems)
        first = problems[0]["message"] if problems else "invalid input"
        return cls(f"Invalid input at {where}: {first}", details={"errors": problems})


class BadRequest(SessionhubError):
    status = 400
    code = "bad_request"


class Unauthorized(SessionhubError):
    status = 401
    code = "unauthorized"


class Forbidden(SessionhubError):
    status = 403
    code = "forbidden"


class ConsentRequired(Forbidden):
    """The subject has not consented (or withdrew consent) to what the request needs."""

    code = "consent_required"


class NotFound(SessionhubError):
    status = 404
    code = "not_found"


class Conflict(SessionhubError):
    status = 409
    code = "conflict"


class SessionEnded(Conflict):
    code = "session_ended"


class SessionLimitReached(Conflict):
    code = "session_limit_reached"


class PayloadTooLarge(SessionhubError):
    status = 413
    code = "payload_too_large"


class RateLimited(SessionhubError):
    status = 429
    code = "rate_limited"


class StorageError(SessionhubError):
    status = 503
    code = "storage_unavailable"


def error_class_for(code: str, status: int) -> type[SessionhubError]:
    """Find the class that raised ``code`` (falling back to the class for ``status``)."""
    classes: list[type[SessionhubError]] = [SessionhubError]
    while classes:
        cls = classes.pop()
        if cls.code == code:
            return cls
        classes.extend(cls.__subclasses__())
    for cls in _BY_STATUS:
        if cls.status == status:
            return cls
    return SessionhubError


_BY_STATUS: tuple[type[SessionhubError], ...] = (
    InvalidInput,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    StorageError,
)
