"""How much one request may ask of the server: body size, JSON nesting, GraphQL depth, aliases, tokens.

Every limit is refused before the work it guards is done: a body over
``max_body_bytes`` is answered 413 while it is being read (from its
``Content-Length`` when it gives one, else as the bytes arrive); a JSON
body nested deeper than ``max_json_depth`` is 400 before it is decoded; a
GraphQL document over ``max_tokens`` stops the parser, one deeper than
``max_depth`` or with more than ``max_aliases`` aliases fails validation,
so no resolver runs.  Introspection (``__schema``, ``__type``) needs an
authenticated caller unless ``anonymous_introspection`` is set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.extensions.base_extension import SchemaExtension

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ApiLimits:
    """The limits ``create_app(limits=...)`` enforces; the defaults suit an admin API."""

    #: the largest request body read, in bytes (GraphQL and the inspector's forms)
    max_body_bytes: int = 256 * 1024
    #: how deeply a JSON body may nest its objects and lists
    max_json_depth: int = 64
    #: how deeply a GraphQL operation may nest its selections
    max_depth: int = 10
    #: how many aliases one GraphQL document may use
    max_aliases: int = 30
    #: how many lexical tokens one GraphQL document may have
    max_tokens: int = 2000
    #: whether a caller without a valid token may run ``__schema``/``__type`` queries
    anonymous_introspection: bool = False

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_json_depth", "max_depth", "max_aliases", "max_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ApiLimits.{name} must be a positive integer, not {value!r}")

    def schema_extensions(self) -> list[Any]:
        """The strawberry extensions that hold a GraphQL document to these limits."""
        # factories: strawberry builds a fresh extension per request from each
        extensions: list[Any] = [
            lambda: MaxTokensLimiter(max_token_count=self.max_tokens),
            lambda: QueryDepthLimiter(max_depth=self.max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=self.max_aliases),
        ]
        if not self.anonymous_introspection:
            extensions.append(IntrospectionForActors)
        return extensions


class IntrospectionForActors(SchemaExtension):
    """Refuse ``__schema`` and ``__type`` to a caller who is not signed in (``__typename`` is fine)."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if getattr(context, "actor", None) is None:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                *DisableIntrospection().validation_rules,
            )
        yield


class RequestTooLarge(Exception):
    """A request body went over the limit while it was being read."""


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` is answered 413, never read to its end."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except RequestTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        error = {
            "message": f"the request body is larger than {self.max_bytes} bytes",
            "extensions": {"code": "REQUEST_TOO_LARGE"},
        }
        body = json.dumps({"errors": [error]}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(data: str | bytes) -> int:
    """How deeply ``data`` nests, counted without decoding it (strings skipped)."""
    raw = data.encode() if isinstance(data, str) else data
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest
