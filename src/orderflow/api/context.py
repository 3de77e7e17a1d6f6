"""Who is asking and what they reach: the per-request context and the pluggable authenticator.

An *authenticator* is any callable ``authenticator(connection) -> Principal | None``
(or a coroutine function returning one) given the Starlette request.  It
returns ``None`` when the request carries no credentials and raises
:class:`~orderflow.api.errors.AuthenticationError` when it carries bad ones;
the API never treats a bad credential as anonymous.  The default is
:class:`~orderflow.api.tokens.TokenAuthenticator`; put your own session or
SSO lookup in its place (make it a coroutine function if it does I/O).

Embedding the schema in another framework means building an
:class:`ApiContext` per request yourself (or a dict holding one under
``"orderflow"``) with the actor your framework authenticated.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from orderflow.api.errors import AuthenticationError
from orderflow.api.mutations import require_actor
from orderflow.api.records import RecordTypes
from orderflow.service import Principal, WorkflowService

Authenticator = Callable[[HTTPConnection], Principal | Awaitable[Principal | None] | None]


@dataclass
class ApiContext:
    """What every resolver needs: the service, the record types served, and the acting actor."""

    service: WorkflowService
    records: RecordTypes = field(default_factory=RecordTypes)
    actor: Principal | None = None
    #: why the credentials sent with the request were refused (``None``: none were sent, or they held)
    authentication_error: str | None = None

    def require_actor(self) -> Principal:
        """The actor, or :class:`AuthenticationError` saying why there is none."""
        return require_actor(self.actor, self.authentication_error)


async def authenticate(
    authenticator: Authenticator, connection: HTTPConnection
) -> tuple[Principal | None, str | None]:
    """``(actor, None)``, ``(None, None)`` without credentials, or ``(None, why)`` for bad ones."""
    try:
        found = authenticator(connection)
        if inspect.isawaitable(found):
            found = await found
    except AuthenticationError as exc:
        return None, str(exc)
    if found is not None and not isinstance(found, Principal):
        raise TypeError(
            f"an authenticator must return an orderflow.service.Actor or None, not {type(found).__name__}"
        )
    return found, None


def context_from(value: Any) -> ApiContext:
    """The :class:`ApiContext` of a resolver's ``info.context`` (itself, or a dict's ``"orderflow"``)."""
    if isinstance(value, ApiContext):
        return value
    found = value.get("orderflow") if isinstance(value, Mapping) else None
    if isinstance(found, ApiContext):
        return found
    raise TypeError(
        "the orderflow schema needs an orderflow.api.ApiContext as its context "
        "(or a dict holding one under 'orderflow'); see docs/api.md"
    )
