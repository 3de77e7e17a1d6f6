"""Signed actor tokens: who is calling, vouched for by a shared secret.

A token is two base64url parts joined by a dot::

    <payload>.<signature>

``payload`` is compact JSON ``{"id", "label", "permissions", "exp"}`` (``exp``
in Unix seconds, required: a token that never expires is refused) and
``signature`` is HMAC-SHA256 of the payload part under the secret.  The
signature is checked in constant time before the payload is even parsed,
so nothing an outsider writes is interpreted unless the secret signed it.

Whoever holds the secret can mint any actor: it belongs to the service that
issues tokens (a login service, ``orderflow token`` on an admin's machine),
never to a browser.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.requests import HTTPConnection

from orderflow.api.errors import AuthenticationError
from orderflow.service import Actor

#: the cookie the inspector's sign-in form sets (HttpOnly, SameSite=Strict)
TOKEN_COOKIE = "orderflow_token"
#: secrets shorter than this are refused: an HMAC key that can be guessed signs for anyone
MIN_SECRET_LENGTH = 16


def issue_token(
    secret: str,
    actor: Actor,
    *,
    expires_in: timedelta = timedelta(hours=8),
    now: Callable[[], float] = time.time,
) -> str:
    """A token that vouches for ``actor`` until ``expires_in`` from now."""
    _check_secret(secret)
    payload = {
        "id": actor.id,
        "label": actor.label,
        "permissions": sorted(actor.permissions),
        "exp": int(now() + expires_in.total_seconds()),
    }
    body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64encode(_sign(secret, body))}"


def read_token(secret: str, token: str, *, now: Callable[[], float] = time.time) -> Actor:
    """The actor ``token`` vouches for; :class:`AuthenticationError` saying why when it does not."""
    _check_secret(secret)
    body, dot, signature = token.strip().partition(".")
    if not dot or not body or not signature:
        raise AuthenticationError("the token is malformed: expected <payload>.<signature>")
    try:
        given = _b64decode(signature)
    except ValueError:
        raise AuthenticationError(
            "the token is malformed: its signature is not base64url"
        ) from None
    if not hmac.compare_digest(given, _sign(secret, body)):
        raise AuthenticationError(
            "the token's signature does not match: it was not issued with this secret"
        )
    try:
        payload = json.loads(_b64decode(body))
    except ValueError:
        raise AuthenticationError("the token's payload is not JSON") from None
    actor = _actor(payload)
    if payload["exp"] <= now():
        raise AuthenticationError("the token has expired; ask for a new one")
    return actor


class TokenAuthenticator:
    """The default authenticator: a signed token from ``Authorization: Bearer`` or the inspector's cookie.

    No token at all means no actor (``None``); a token that is malformed,
    forged or expired raises :class:`AuthenticationError`, so the caller
    hears why instead of being treated as anonymous.
    """

    def __init__(self, secret: str, *, now: Callable[[], float] = time.time) -> None:
        _check_secret(secret)
        self._secret = secret
        self._now = now

    def __call__(self, connection: HTTPConnection) -> Actor | None:
        token = bearer_token(connection) or connection.cookies.get(TOKEN_COOKIE)
        if not token:
            return None
        return read_token(self._secret, token, now=self._now)


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _actor(payload: Any) -> Actor:
    if not isinstance(payload, dict):
        raise AuthenticationError("the token's payload must be a JSON object")
    actor_id, label = payload.get("id"), payload.get("label")
    permissions, expires = payload.get("permissions", []), payload.get("exp")
    if not isinstance(actor_id, str) or not actor_id:
        raise AuthenticationError("the token names no actor: 'id' must be a non-empty string")
    if label is not None and not isinstance(label, str):
        raise AuthenticationError("the token's 'label' must be a string")
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise AuthenticationError("the token's 'permissions' must be a list of strings")
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        raise AuthenticationError("the token has no expiry: 'exp' must be a Unix time in seconds")
    return Actor(actor_id, label, frozenset(permissions))


def _check_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"the token secret must be at least {MIN_SECRET_LENGTH} characters long "
            f"(it has {len(secret)}); use a random one, e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )


def _sign(secret: str, body: str) -> bytes:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(str(exc)) from exc
