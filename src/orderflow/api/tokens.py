"""Principal tokens: standard JSON Web Tokens (RFC 7519), verified with PyJWT.

Two ways to trust a token:

- **a shared secret** (HS256): what :func:`issue_token` and ``orderflow token``
  issue, for a team without an identity provider.  Whoever holds the secret
  can mint any actor: it belongs to the service that issues tokens, never
  to a browser.  A secret must be at least :data:`MIN_SECRET_LENGTH`
  characters with some variety in them (``"aaaa..."`` is refused);
- **your identity provider's public keys** (RS256 or ES256): a PEM public
  key, or a JWKS document (a file or a mapping) whose keys are chosen by
  the token's ``kid``.

Every token is checked the same way, before any claim is read: the compact
form is three strict base64url parts; the header's ``alg`` is one the
verifier allows (never ``none``, and never HMAC when a public key is
configured: a token "signed" with the public key as an HMAC secret is
refused); the signature; ``exp`` is required, a whole number of seconds,
not past and not further ahead than ``max_lifetime``; ``nbf`` and ``iat``
if present; ``iss`` and ``aud`` when configured.  Clock skew is
``leeway``.  The claims then become an :class:`~orderflow.service.Actor`
through a :class:`ClaimMapping`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from starlette.requests import HTTPConnection

from orderflow.api.errors import AuthenticationError
from orderflow.service import Principal

#: the cookie the inspector's sign-in form sets (HttpOnly, SameSite=Strict)
TOKEN_COOKIE = "orderflow_token"
#: secrets shorter than this are refused: an HMAC key that can be guessed signs for anyone
MIN_SECRET_LENGTH = 32
#: the least Shannon entropy per character a secret must show (random base64 shows about 5)
MIN_SECRET_BITS_PER_CHARACTER = 3.0
#: the algorithms a verifier with a public key accepts unless told otherwise
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")
#: a token's compact form: header.payload.signature, each strict base64url without padding
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ClaimMapping:
    """Which claims of a token say who acts.

    ``id`` (default ``sub``) must be a non-empty string; ``label`` (default
    ``name``) an optional string; ``permissions`` (default ``permissions``)
    a list of strings or one space-separated string (OAuth's ``scope``
    style).  Name ``permissions="scope"`` for a provider that grants scopes.
    """

    id: str = "sub"
    label: str = "name"
    permissions: str = "permissions"

    def actor(self, claims: Mapping[str, Any]) -> Principal:
        actor_id, label = claims.get(self.id), claims.get(self.label)
        permissions = claims.get(self.permissions, [])
        if not isinstance(actor_id, str) or not actor_id:
            raise AuthenticationError(
                f"the token names no actor: '{self.id}' must be a non-empty string"
            )
        if label is not None and not isinstance(label, str):
            raise AuthenticationError(f"the token's '{self.label}' must be a string")
        if isinstance(permissions, str):
            permissions = permissions.split()
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise AuthenticationError(
                f"the token's '{self.permissions}' must be a list of strings or a "
                "space-separated string"
            )
        return Principal(actor_id, label, frozenset(permissions))


class TokenVerifier:
    """Checks tokens (see the module doc) and says who they vouch for.

    Give ``secret`` for HS256, or ``public_key`` (PEM text) or ``jwks`` (a
    JWKS mapping, or the path of a JSON file holding one) for RS256/ES256.
    """

    def __init__(
        self,
        secret: str | None = None,
        *,
        public_key: str | None = None,
        jwks: Mapping[str, Any] | str | Path | None = None,
        algorithms: Iterable[str] | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: timedelta = timedelta(seconds=30),
        max_lifetime: timedelta = timedelta(days=1),
        claims: ClaimMapping = ClaimMapping(),
        now: Callable[[], float] = time.time,
    ) -> None:
        given = [name for name, value in (("secret", secret), ("public_key", public_key),
                                          ("jwks", jwks)) if value is not None]  # fmt: skip
        if len(given) != 1:
            raise ValueError(
                "a token verifier needs exactly one of secret (HS256), public_key or jwks "
                f"(RS256/ES256); it was given {given or 'none'}"
            )
        if secret is not None:
            check_secret(secret)
            self._algorithms = tuple(algorithms or ("HS256",))
            if any(not a.startswith("HS") for a in self._algorithms):
                raise ValueError("a shared secret verifies HMAC algorithms (HS256) only")
        else:
            self._algorithms = tuple(algorithms or PUBLIC_KEY_ALGORITHMS)
            if any(a.startswith("HS") or a.lower() == "none" for a in self._algorithms):
                raise ValueError(
                    "a public key verifies RS256/ES256 tokens only: accepting HS256 would let "
                    "anyone who knows the public key sign tokens"
                )
        self._secret = secret
        self._public_key = None if public_key is None else _public_key(public_key)
        self._jwks = None if jwks is None else jwt.PyJWKSet.from_dict(_jwks_data(jwks))
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway.total_seconds()
        self._max_lifetime = max_lifetime.total_seconds()
        self._claims = claims
        self._now = now

    def read(self, token: str) -> Principal:
        """The actor ``token`` vouches for; :class:`AuthenticationError` saying why when it does not."""
        token = token.strip()
        if not _COMPACT.fullmatch(token):
            raise AuthenticationError(
                "the token is malformed: expected a JSON Web Token, three base64url parts "
                "joined by dots"
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the token is malformed: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise AuthenticationError(
                f"the token is signed with {algorithm!r}; this server accepts "
                f"{', '.join(self._algorithms)}"
            )
        try:
            claims = jwt.decode(
                token,
                self._key(header),
                algorithms=list(self._algorithms),
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": ["exp"],
                    "verify_exp": False,  # checked below against this verifier's clock
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
            )
        except jwt.InvalidSignatureError:
            raise AuthenticationError(
                "the token's signature does not match: it was not issued with this key"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            if exc.claim == "exp":
                raise AuthenticationError(
                    "the token has no expiry: 'exp' must be a Unix time in seconds"
                ) from None
            raise AuthenticationError(f"the token is refused: it has no '{exc.claim}'") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the token is refused: {exc}") from None
        self._check_times(claims)
        return self._claims.actor(claims)

    def __call__(self, connection: HTTPConnection) -> Principal | None:
        """A request's actor: its ``Authorization: Bearer`` token or the inspector's cookie.

        No token at all means no actor (``None``); a token that is malformed,
        forged or expired raises :class:`AuthenticationError`, so the caller
        hears why instead of being treated as anonymous.
        """
        token = bearer_token(connection) or connection.cookies.get(TOKEN_COOKIE)
        if not token:
            return None
        return self.read(token)

    def _key(self, header: Mapping[str, Any]) -> Any:
        if self._secret is not None:
            return self._secret
        if self._public_key is not None:
            return self._public_key
        assert self._jwks is not None
        kid = header.get("kid")
        keys = self._jwks.keys
        if kid is None:
            if len(keys) != 1:
                raise AuthenticationError("the token names no key ('kid') of the server's JWKS")
            return keys[0]
        for key in keys:
            if key.key_id == kid:
                return key
        raise AuthenticationError(f"the token's key {kid!r} is not in the server's JWKS")

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._now()
        expires = _seconds(claims, "exp")
        if expires is None:
            raise AuthenticationError(
                "the token has no expiry: 'exp' must be a Unix time in seconds"
            )
        if expires <= now - self._leeway:
            raise AuthenticationError("the token has expired; ask for a new one")
        if expires > now + self._max_lifetime + self._leeway:
            raise AuthenticationError(
                "the token expires too far ahead: this server accepts tokens valid for at most "
                f"{self._max_lifetime / 3600:g} hours"
            )
        not_before = _seconds(claims, "nbf")
        if not_before is not None and not_before > now + self._leeway:
            raise AuthenticationError("the token is not valid yet ('nbf' is in the future)")
        issued = _seconds(claims, "iat")
        if issued is not None and issued > now + self._leeway:
            raise AuthenticationError("the token was issued in the future ('iat')")


#: the default authenticator of ``create_app(secret=...)``: a verifier used as one
TokenAuthenticator = TokenVerifier


def issue_token(
    secret: str,
    actor: Principal,
    *,
    expires_in: timedelta = timedelta(hours=8),
    issuer: str | None = None,
    audience: str | None = None,
    now: Callable[[], float] = time.time,
) -> str:
    """An HS256 JSON Web Token that vouches for ``actor`` until ``expires_in`` from now.

    Claims: ``sub`` (the id), ``name`` (the label), ``permissions``, ``iat``,
    ``exp``, and ``iss``/``aud`` when given.
    """
    check_secret(secret)
    issued = int(now())
    claims: dict[str, Any] = {
        "sub": actor.id,
        "permissions": sorted(actor.permissions),
        "iat": issued,
        "exp": issued + int(expires_in.total_seconds()),
    }
    if actor.label is not None:
        claims["name"] = actor.label
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(secret: str, token: str, *, now: Callable[[], float] = time.time) -> Principal:
    """The actor an HS256 ``token`` issued with ``secret`` vouches for (see :class:`TokenVerifier`)."""
    return TokenVerifier(secret, now=now).read(token)


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_secret(secret: str) -> None:
    """Refuse a shared secret that could be guessed: too short, or too repetitive."""
    advice = "use a random one, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"the token secret must be at least {MIN_SECRET_LENGTH} characters long "
            f"(it has {len(secret)}); {advice}"
        )
    counts = Counter(secret)
    bits = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    if bits < MIN_SECRET_BITS_PER_CHARACTER:
        raise ValueError(
            f"the token secret is too repetitive to be secret ({bits:.1f} bits per character, "
            f"at least {MIN_SECRET_BITS_PER_CHARACTER:g} needed); {advice}"
        )


def _seconds(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthenticationError(f"the token's '{name}' must be a Unix time in seconds")
    return float(value)


def _jwks_data(jwks: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(jwks, Mapping):
        return dict(jwks)
    try:
        data = json.loads(Path(jwks).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the JWKS file {jwks}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{jwks} is not a JWKS document (an object with a 'keys' list)")
    return data


def _public_key(pem: str) -> Any:
    """A PEM public key, loaded once (RSA or EC); a private key or anything else is refused."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ValueError(f"public_key is not a PEM public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError("public_key must be an RSA or EC public key")
    return key
