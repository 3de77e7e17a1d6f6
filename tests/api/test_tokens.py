"""Principal tokens: standard JSON Web Tokens that vouch for exactly one actor, until they expire.

HS256 with the shared secret (what ``orderflow token`` issues), RS256 and
ES256 with an identity provider's public key or JWKS; each attack on the
token format is refused with a reason before any claim is believed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from api_support import ADMIN, SECRET
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.requests import HTTPConnection

from orderflow.api import (
    TOKEN_COOKIE,
    AuthenticationError,
    ClaimMapping,
    TokenAuthenticator,
    TokenVerifier,
    issue_token,
    read_token,
)
from orderflow.service import Principal

NOW = 1_800_000_000.0


def at(moment: float) -> Callable[[], float]:
    return lambda: moment


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(claims: Any, secret: str = SECRET, header: Any = None) -> str:
    """A token over any claims, signed with the secret by hand: what only its holder can make."""
    head = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(claims.encode() if isinstance(claims, str) else json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def connection(headers: dict[str, str]) -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection({"type": "http", "headers": raw})


def test_a_token_reads_back_as_the_actor_it_was_issued_for() -> None:
    token = issue_token(SECRET, ADMIN, now=at(NOW))
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert read_token(SECRET, token, now=at(NOW + 60)) == ADMIN


def test_an_expired_token_is_refused_after_the_clock_skew_allowed() -> None:
    token = issue_token(SECRET, ADMIN, expires_in=timedelta(minutes=5), now=at(NOW))
    assert read_token(SECRET, token, now=at(NOW + 310)) == ADMIN  # within 30 s of leeway
    with pytest.raises(AuthenticationError, match="the token has expired"):
        read_token(SECRET, token, now=at(NOW + 331))


def test_a_token_whose_permissions_were_edited_is_refused() -> None:
    head, body, signature = issue_token(SECRET, ADMIN, now=at(NOW)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["permissions"].append("sale.override.credit")
    with pytest.raises(AuthenticationError, match="signature does not match"):
        read_token(SECRET, f"{head}.{b64(json.dumps(claims).encode())}.{signature}", now=at(NOW))


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_token("another-secret-of-enough-length-9xQ", ADMIN, now=at(NOW))
    with pytest.raises(AuthenticationError, match="not issued with this key"):
        read_token(SECRET, token, now=at(NOW))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "u-1", "permissions": []}, "the token has no expiry"),
        ('{"sub": "u-1", "exp": NaN}', "exp"),
        ('{"sub": "u-1", "exp": Infinity}', "exp"),
        ('{"sub": "u-1", "exp": 1e400}', "exp"),
        ({"sub": "u-1", "exp": 10**30}, "expires too far ahead"),
        ({"sub": "u-1", "exp": "soon"}, "exp"),
        ({"sub": "", "exp": NOW + 60}, "the token names no actor"),
        ({"sub": "u-1", "permissions": {"a": 1}, "exp": NOW + 60}, "'permissions' must be a list"),
        ({"sub": "u-1", "exp": NOW + 60, "nbf": NOW + 3600}, "not valid yet"),
        ({"sub": "u-1", "exp": NOW + 60, "iat": NOW + 3600}, "issued in the future"),
        (["u-1"], "refused"),
    ],
)
def test_a_signed_token_with_bad_claims_is_refused(claims: Any, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        read_token(SECRET, hand_signed(claims), now=at(NOW))


@pytest.mark.parametrize(
    "token",
    ["", "no-dot", ".", "abc.", "a.b", "ü.ü.ü", "a.b.c.d", "a b.c.d"],
)
def test_a_malformed_token_is_refused_with_a_reason(token: str) -> None:
    with pytest.raises(AuthenticationError, match="malformed"):
        read_token(SECRET, token)


@pytest.mark.parametrize("suffix", ["!!!", "=", "==", "%", "\\x00", ".x"])
def test_a_signature_with_anything_appended_does_not_sign_in(suffix: str) -> None:
    token = issue_token(SECRET, ADMIN, now=at(NOW))
    with pytest.raises(AuthenticationError):
        read_token(SECRET, token + suffix, now=at(NOW))


def test_alg_none_is_refused() -> None:
    claims = {"sub": "u-boss", "permissions": ["sale.override.admin"], "exp": NOW + 60}
    head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{head}.{b64(json.dumps(claims).encode())}."
    for token in (unsigned, unsigned + "x"):
        with pytest.raises(AuthenticationError):
            read_token(SECRET, token, now=at(NOW))


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("short", "at least 32 characters"),
        ("a" * 40, "too repetitive"),
        ("ab" * 20, "too repetitive"),
    ],
)
def test_a_weak_secret_is_refused_before_anything_is_signed(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        issue_token(secret, ADMIN)
    with pytest.raises(ValueError, match=message):
        TokenAuthenticator(secret)


def test_the_authenticator_reads_a_bearer_header_or_the_cookie_and_nothing_is_anonymous() -> None:
    authenticate = TokenAuthenticator(SECRET)
    token = issue_token(SECRET, ADMIN)
    assert authenticate(connection({})) is None
    assert authenticate(connection({"Authorization": f"Bearer {token}"})) == ADMIN
    assert authenticate(connection({"Cookie": f"{TOKEN_COOKIE}={token}"})) == ADMIN
    with pytest.raises(AuthenticationError):
        authenticate(connection({"Authorization": "Bearer not-a-token"}))


def test_issuer_and_audience_are_checked_when_configured() -> None:
    verifier = TokenVerifier(SECRET, issuer="https://login.example", audience="orderflow",
                             now=at(NOW))  # fmt: skip
    good = issue_token(SECRET, ADMIN, issuer="https://login.example", audience="orderflow",
                       now=at(NOW))  # fmt: skip
    assert verifier.read(good) == ADMIN
    for issuer, audience in (("https://evil.example", "orderflow"),
                             ("https://login.example", "billing"), (None, None)):  # fmt: skip
        token = issue_token(SECRET, ADMIN, issuer=issuer, audience=audience, now=at(NOW))
        with pytest.raises(AuthenticationError, match="refused"):
            verifier.read(token)


# -- an identity provider's keys ------------------------------------------------------------------


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def provider_claims(**more: Any) -> dict[str, Any]:
    return {"sub": "u-ann", "name": "Ann", "scope": "quotation.approve sale.create",
            "exp": int(NOW + 600), "iss": "https://login.example", "aud": "orderflow", **more}  # fmt: skip


SCOPES = ClaimMapping(permissions="scope")
ANN = Principal("u-ann", "Ann", frozenset({"quotation.approve", "sale.create"}))


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_providers_token_is_verified_with_its_public_key(algorithm: str) -> None:
    private = rsa_key() if algorithm == "RS256" else ec.generate_private_key(ec.SECP256R1())
    verifier = TokenVerifier(public_key=pem(private), issuer="https://login.example",
                             audience="orderflow", claims=SCOPES, now=at(NOW))  # fmt: skip
    assert verifier.read(jwt.encode(provider_claims(), private, algorithm=algorithm)) == ANN
    stranger = rsa_key() if algorithm == "RS256" else ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthenticationError, match="signature does not match"):
        verifier.read(jwt.encode(provider_claims(), stranger, algorithm=algorithm))


def test_a_token_hmac_signed_with_the_public_key_is_refused() -> None:
    """Algorithm confusion: the public key is public, so it must never serve as an HMAC secret."""
    private = rsa_key()
    public = pem(private)
    verifier = TokenVerifier(public_key=public, claims=SCOPES, now=at(NOW))
    forged = hand_signed(provider_claims(), secret=public)
    with pytest.raises(AuthenticationError, match="HS256"):
        verifier.read(forged)
    with pytest.raises(ValueError, match="RS256/ES256 tokens only"):
        TokenVerifier(public_key=public, algorithms=["RS256", "HS256"])


def test_a_jwks_file_picks_the_key_by_kid(tmp_path: Path) -> None:
    first, second = rsa_key(), rsa_key()
    keys = []
    for kid, key in (("k1", first), ("k2", second)):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": keys}))
    verifier = TokenVerifier(jwks=path, claims=SCOPES, now=at(NOW))
    for kid, key in (("k1", first), ("k2", second)):
        token = jwt.encode(provider_claims(), key, algorithm="RS256", headers={"kid": kid})
        assert verifier.read(token) == ANN
    wrong = jwt.encode(provider_claims(), first, algorithm="RS256", headers={"kid": "k2"})
    with pytest.raises(AuthenticationError, match="signature does not match"):
        verifier.read(wrong)
    unknown = jwt.encode(provider_claims(), first, algorithm="RS256", headers={"kid": "k9"})
    with pytest.raises(AuthenticationError, match="not in the server's JWKS"):
        verifier.read(unknown)


def test_a_verifier_takes_exactly_one_kind_of_key() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        TokenVerifier()
    with pytest.raises(ValueError, match="exactly one of"):
        TokenVerifier(SECRET, public_key=pem(rsa_key()))
    with pytest.raises(ValueError, match="not a PEM public key"):
        TokenVerifier(public_key="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")
