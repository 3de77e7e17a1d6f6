"""What the API answers a caller who cannot have what they asked for.

Each :class:`ApiError` carries a ``code`` that GraphQL clients receive as
``extensions.code`` (graphql-core copies an exception's ``extensions`` into
the error it reports), and a message that reads as a sentence.  The
service's own errors (an unknown record, a bad event, a stale version) are
translated by :func:`api_error`: the service's message unchanged, the error's
own stable ``code`` (see :mod:`orderflow.errors`), and the error itself as
the ``__cause__``.  Anything else is a bug: the schema masks it as
"Unexpected error." and logs it with its traceback.

:class:`ApiError`, :class:`AuthenticationError` and :class:`PermissionDeniedError`
live in :mod:`orderflow.errors` with every other error; they are imported
here so that ``orderflow.api.errors`` keeps naming them.
"""

from __future__ import annotations

from orderflow.errors import (
    ApiError,
    AuthenticationError,
    OrderflowError,
    PermissionDeniedError,
)

__all__ = ["ApiError", "AuthenticationError", "PermissionDeniedError", "api_error"]


def api_error(exc: OrderflowError) -> ApiError:
    """``exc`` as the API reports it: its own message and code, with ``exc`` as the cause."""
    if isinstance(exc, ApiError):
        return exc
    error = ApiError(str(exc), exc.code)
    error.__cause__ = exc
    return error
