"""Verifying the JWT a CDS client sends (CDS Hooks 2.0 §Trusting CDS Clients).

The order of checks is deliberate: everything that can be refused from the header alone
(`alg`, `kid`) is refused before a key is looked up, the issuer is trusted before its keys are
touched, and a `jku` is used only when the operator listed it for that issuer — so an attacker
can neither choose the algorithm nor make us fetch a URL of their choosing. Every refusal is an
`Unauthorized` whose `reason` is a short fixed label (logs and the failure metric).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from cds_service.errors import Unauthorized
from cds_service.security.clients import TrustedClient, TrustedClients
from cds_service.security.jwks import RemoteKeySets
from cds_service.security.keys import ALLOWED_ALGORITHMS, VerificationKey

REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
MAX_TOKEN_CHARS = 16 * 1024

# PyJWT's own failures, most specific first, mapped to our reasons.
_PYJWT_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidSignatureError, "bad-signature"),
    (jwt.MissingRequiredClaimError, "missing-claim"),
    (jwt.InvalidKeyError, "key-mismatch"),
    (jwt.InvalidAlgorithmError, "alg-not-allowed"),
    (jwt.DecodeError, "malformed-token"),
)


@dataclass(frozen=True)
class VerifiedToken:
    client: TrustedClient
    jti: str
    expires_at: float  # the token's exp, seconds since the epoch


@dataclass(frozen=True)
class TokenPolicy:
    max_lifetime_s: int  # exp - iat at most this (inclusive)
    leeway_s: int  # clock skew allowed on exp, iat and nbf


class TokenVerifier:
    def __init__(self, clients: TrustedClients, remote_keys: RemoteKeySets, policy: TokenPolicy) -> None:
        self._clients = clients
        self._remote_keys = remote_keys
        self._policy = policy

    async def verify(self, token: str, audience: str) -> VerifiedToken:
        """The trusted client and claims of a valid token for `audience`; else Unauthorized."""
        header = _header(token)
        client = self._issuer(token)
        key = await self._key(client, header)
        claims = self._decode(token, key, header["alg"])
        _check_audience(claims.get("aud"), audience)
        self._check_lifetime(claims)
        _check_tenant(client, claims)
        return VerifiedToken(client=client, jti=_jti(claims), expires_at=float(claims["exp"]))

    def _issuer(self, token: str) -> TrustedClient:
        """The client named by `iss`, read before the signature: it decides which keys apply."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("malformed-token") from None
        issuer = unverified.get("iss")
        client = self._clients.get(issuer) if isinstance(issuer, str) else None
        if client is None:
            raise Unauthorized("untrusted-issuer")
        return client

    async def _key(self, client: TrustedClient, header: dict[str, Any]) -> VerificationKey:
        kid, jku = header["kid"], header.get("jku")
        if jku is not None and jku not in client.jku_allowed:
            raise Unauthorized("jku-not-allowed")
        key = self._known_key(client, kid)
        if key is None:
            source = jku or client.jwks_url  # a listed jku is fetched only for an unknown kid
            if source is None:
                raise Unauthorized("unknown-kid")
            key = await self._remote_keys.for_url(source).key(kid)
        if not key.verifies(header["alg"]):
            raise Unauthorized("key-mismatch")
        return key

    def _known_key(self, client: TrustedClient, kid: str) -> VerificationKey | None:
        """A key we hold already: configured inline/file, or cached from the client's jwks_url."""
        key = client.configured_keys.get(kid)
        if key is None and client.jwks_url is not None:
            key = self._remote_keys.for_url(client.jwks_url).cached(kid)
        return key

    def _decode(self, token: str, key: VerificationKey, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                leeway=self._policy.leeway_s,
                options={"require": REQUIRED_CLAIMS, "verify_aud": False, "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(_pyjwt_reason(exc)) from None
        return claims

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Local policy: short-lived tokens only, so the jti cache stays small and bounded."""
        lifetime = float(claims["exp"]) - float(claims["iat"])
        if lifetime > self._policy.max_lifetime_s:
            raise Unauthorized("lifetime-too-long")


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, refused before any key lookup when alg or kid are unacceptable."""
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("malformed-token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:  # includes a kid that is not a string
        raise Unauthorized("malformed-token") from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise Unauthorized("alg-not-allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("kid-missing")
    if "jku" in header and not isinstance(header["jku"], str):
        raise Unauthorized("jku-not-allowed")
    return header


_REPEATED_SLASHES = re.compile(r"/{2,}")


def endpoint_identity(url: str) -> str:
    """What makes two endpoint URLs the same for `aud`: case-insensitive scheme and host, and a
    path without repeated or trailing slashes (the sandbox calls `…/cds-services//{id}` when its
    discovery URL ends in `/`, and puts exactly that in `aud`)."""
    parts = urlsplit(url)
    path = _REPEATED_SLASHES.sub("/", parts.path).rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"


def _check_audience(aud: object, audience: str) -> None:
    """`aud` is a string or an array of strings; one of them must be the endpoint called."""
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise Unauthorized("malformed-token")
    expected = endpoint_identity(audience)
    if not any(endpoint_identity(value) == expected for value in values):
        raise Unauthorized("wrong-audience")


def _check_tenant(client: TrustedClient, claims: dict[str, Any]) -> None:
    if client.tenant is not None and claims.get("tenant") != client.tenant:
        raise Unauthorized("wrong-tenant")


def _jti(claims: dict[str, Any]) -> str:
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti.strip():
        raise Unauthorized("missing-claim")
    return jti


def _pyjwt_reason(error: jwt.PyJWTError) -> str:
    for error_type, reason in _PYJWT_REASONS:
        if isinstance(error, error_type):
            return reason
    return "invalid-token"
