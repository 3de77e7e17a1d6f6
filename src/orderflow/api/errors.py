"""What the API answers a caller who cannot have what they asked for.

Each :class:`ApiError` carries a ``code`` that GraphQL clients receive as
``extensions.code`` (graphql-core copies an exception's ``extensions`` into
the error it reports), and a message that reads as a sentence.  The
service's own errors (an unknown record, a bad event, a stale version) are
translated by :func:`api_error` with the service's message unchanged.
Anything else is a bug: the schema masks it as "Unexpected error." and logs
it with its traceback.
"""

from __future__ import annotations

from typing import Any

from orderflow.errors import (
    IdempotencyKeyReusedError,
    InvalidEventError,
    InvalidSnapshotError,
    OrderflowError,
    RecordNotFoundError,
    StaleRecordError,
    UnknownEventError,
)


class ApiError(OrderflowError):
    """A request the API refuses; ``code`` says which kind of refusal."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class AuthenticationError(ApiError):
    """No actor could be established: no credentials, or credentials that do not hold."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(ApiError):
    """The actor is known but may not do this; nothing was written."""

    code = "FORBIDDEN"


_CODES: tuple[tuple[type[OrderflowError], str], ...] = (
    (RecordNotFoundError, "NOT_FOUND"),
    (UnknownEventError, "UNKNOWN_EVENT"),
    (InvalidEventError, "INVALID_EVENT"),
    (StaleRecordError, "STALE_RECORD"),
    (IdempotencyKeyReusedError, "IDEMPOTENCY_KEY_REUSED"),
    (InvalidSnapshotError, "INVALID_SNAPSHOT"),
)


def api_error(exc: OrderflowError) -> ApiError:
    """``exc`` as the API reports it: its own message, with a code for its kind."""
    if isinstance(exc, ApiError):
        return exc
    code = next((code for kind, code in _CODES if isinstance(exc, kind)), "WORKFLOW_ERROR")
    return ApiError(str(exc), code)
