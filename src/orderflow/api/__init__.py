"""GraphQL and a small inspector page for the workflows of a service (the ``orderflow[api]`` extra).

    from orderflow.api import create_app
    app = create_app(Session, secret=os.environ["ORDERFLOW_API_SECRET"])   # Starlette
    # GraphQL at /graphql, the inspector at /

The API only reads and composes :class:`~orderflow.service.WorkflowService`
calls; every write is a service call as the authenticated actor, so the
service's permission checks, idempotency and row locking apply unchanged.
``create_schema`` gives the bare strawberry schema for another framework.
See docs/api.md.
"""

from orderflow.api.app import create_app
from orderflow.api.context import ApiContext, Authenticator, authenticate
from orderflow.api.errors import ApiError, AuthenticationError, PermissionDeniedError
from orderflow.api.records import RecordSummary, RecordTypes
from orderflow.api.schema import WorkflowSchema, create_schema
from orderflow.api.tokens import (
    TOKEN_COOKIE,
    ClaimMapping,
    TokenAuthenticator,
    TokenVerifier,
    issue_token,
    read_token,
)

__all__ = [
    "TOKEN_COOKIE",
    "ApiContext",
    "ApiError",
    "AuthenticationError",
    "Authenticator",
    "ClaimMapping",
    "PermissionDeniedError",
    "RecordSummary",
    "RecordTypes",
    "TokenAuthenticator",
    "TokenVerifier",
    "WorkflowSchema",
    "authenticate",
    "create_app",
    "create_schema",
    "issue_token",
    "read_token",
]
