"""Signed actor tokens: a token vouches for exactly the actor it was issued for, until it expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from api_support import ADMIN, SECRET
from starlette.requests import HTTPConnection

from orderflow.api import (
    TOKEN_COOKIE,
    AuthenticationError,
    TokenAuthenticator,
    issue_token,
    read_token,
)

NOW = 1_800_000_000.0


def at(moment: float) -> Callable[[], float]:
    return lambda: moment


def signed(payload: object, secret: str = SECRET) -> str:
    """A token over any payload, signed properly: what only the holder of the secret can make."""
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def connection(headers: dict[str, str]) -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection({"type": "http", "headers": raw})


def test_a_token_reads_back_as_the_actor_it_was_issued_for() -> None:
    token = issue_token(SECRET, ADMIN, now=at(NOW))
    assert read_token(SECRET, token, now=at(NOW + 60)) == ADMIN


def test_an_expired_token_is_refused() -> None:
    token = issue_token(SECRET, ADMIN, expires_in=timedelta(minutes=5), now=at(NOW))
    with pytest.raises(AuthenticationError, match="the token has expired"):
        read_token(SECRET, token, now=at(NOW + 301))


def test_a_token_whose_permissions_were_edited_is_refused() -> None:
    token = issue_token(SECRET, ADMIN, now=at(NOW))
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["permissions"].append("sale.override.credit")
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthenticationError, match="signature does not match"):
        read_token(SECRET, f"{forged}.{signature}", now=at(NOW))


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_token("another-secret-of-enough-length", ADMIN, now=at(NOW))
    with pytest.raises(AuthenticationError, match="not issued with this secret"):
        read_token(SECRET, token, now=at(NOW))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"id": "u-1", "permissions": []}, "the token has no expiry"),
        ({"id": "", "exp": NOW + 60}, "the token names no actor"),
        ({"id": "u-1", "permissions": "admin", "exp": NOW + 60}, "'permissions' must be a list"),
        (["u-1"], "must be a JSON object"),
    ],
)
def test_a_signed_token_with_a_bad_payload_is_refused(payload: object, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        read_token(SECRET, signed(payload), now=at(NOW))


@pytest.mark.parametrize("token", ["", "no-dot", ".", "abc.", "abc.!!!", "ü.ü"])
def test_a_malformed_token_is_refused_with_a_reason(token: str) -> None:
    with pytest.raises(AuthenticationError):
        read_token(SECRET, token)


def test_a_short_secret_is_refused_before_anything_is_signed() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        issue_token("short", ADMIN)
    with pytest.raises(ValueError, match="at least 16 characters"):
        TokenAuthenticator("short")


def test_the_authenticator_reads_a_bearer_header_or_the_cookie_and_nothing_is_anonymous() -> None:
    authenticate = TokenAuthenticator(SECRET)
    token = issue_token(SECRET, ADMIN)
    assert authenticate(connection({})) is None
    assert authenticate(connection({"Authorization": f"Bearer {token}"})) == ADMIN
    assert authenticate(connection({"Cookie": f"{TOKEN_COOKIE}={token}"})) == ADMIN
    with pytest.raises(AuthenticationError):
        authenticate(connection({"Authorization": "Bearer not-a-token"}))
