"""``create_app``: the Starlette application with GraphQL at ``/graphql`` and the inspector at ``/``."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from orderflow.api.context import ApiContext, Authenticator, authenticate
from orderflow.api.inspector import Inspector
from orderflow.api.limits import ApiLimits, BodyLimit, json_depth
from orderflow.api.records import DEFAULT_MODELS, RecordTypes
from orderflow.api.schema import WorkflowSchema, create_schema
from orderflow.api.tokens import TokenAuthenticator
from orderflow.service import PhaseCoordinator, WorkflowService, order_service


class _GraphQLEndpoint(GraphQL[ApiContext, None]):
    """strawberry's ASGI view, with an :class:`ApiContext` per request from the authenticator."""

    def __init__(
        self,
        schema: WorkflowSchema,
        service: WorkflowService,
        records: RecordTypes,
        authenticator: Authenticator,
        *,
        graphiql: bool,
        limits: ApiLimits,
    ) -> None:
        # JSON bodies only (strawberry refuses forms without multipart uploads enabled), and
        # no queries over GET: nothing a cross-site form or link can trigger
        super().__init__(
            schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=False
        )
        self._service = service
        self._records = records
        self._authenticator = authenticator
        self._limits = limits

    def decode_json(self, data: str | bytes) -> object:
        # json.loads recurses: a body nested thousands deep would end in a RecursionError (500);
        # strawberry answers a JSONDecodeError with 400 "Unable to parse request body as JSON"
        if json_depth(data) > self._limits.max_json_depth:
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            raise json.JSONDecodeError(
                f"nested deeper than {self._limits.max_json_depth} levels", text, 0
            )
        return super().decode_json(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> ApiContext:
        actor, why = await authenticate(self._authenticator, request)
        return ApiContext(self._service, self._records, actor, why)


def create_app(
    session_factory: Callable[[], Session] | None = None,
    *,
    secret: str | None = None,
    authenticator: Authenticator | None = None,
    service: WorkflowService | None = None,
    records: Iterable[type[Any]] = DEFAULT_MODELS,
    graphiql: bool = False,
    debug: bool = False,
    limits: ApiLimits | None = None,
) -> Starlette:
    """The API and the inspector for ``service`` (default: the order machines on ``session_factory``).

    ``secret`` signs and checks actor tokens (:class:`TokenAuthenticator`);
    give ``authenticator`` instead to decide who is calling yourself.
    ``records`` are the record models served (default: quotations, sale
    orders, fulfilments).  ``graphiql`` serves the GraphiQL IDE on GET
    ``/graphql`` (it loads its scripts from a CDN).  ``limits`` bound what one
    request may ask (:class:`~orderflow.api.limits.ApiLimits`: body size, JSON
    nesting, GraphQL depth, aliases and tokens, introspection for signed-in
    callers only).
    """
    if service is None:
        if session_factory is None:
            raise ValueError("create_app needs a session_factory or a service")
        service = order_service(session_factory, finish_hooks=[PhaseCoordinator.for_orders()])
    if authenticator is None:
        if not secret:
            raise ValueError(
                "create_app needs a secret to check actor tokens, or an authenticator of your own"
            )
        authenticator = TokenAuthenticator(secret)
    # the inspector's form tokens: derived from the secret so they survive a restart
    form_key = (
        hmac.new(secret.encode(), b"orderflow inspector forms", hashlib.sha256).digest()
        if secret
        else secrets.token_bytes(32)
    )
    types = RecordTypes(records)
    limits = limits or ApiLimits()
    graphql = _GraphQLEndpoint(
        create_schema(limits=limits), service, types, authenticator, graphiql=graphiql,
        limits=limits,
    )  # fmt: skip
    inspector = Inspector(service, types, authenticator, form_key)
    app = Starlette(
        debug=debug,
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), *inspector.routes()],
        middleware=[Middleware(BodyLimit, max_bytes=limits.max_body_bytes)],
    )
    app.state.service = service
    app.state.records = types
    return app
