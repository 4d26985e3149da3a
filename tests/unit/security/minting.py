"""Test-side EHR clients: keys generated here, tokens minted the way real EHRs mint them."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@functools.cache
def ec_p384_key(name: str = "default") -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@functools.cache
def rsa_key(name: str = "default") -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: PrivateKey, kid: str, alg: str | None = None) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(public))
    else:
        jwk = json.loads(RSAAlgorithm.to_jwk(public))
    jwk.update({"kid": kid, "use": "sig"})
    if alg:
        jwk["alg"] = alg
    return jwk


@dataclass
class SigningClient:
    """An EHR as the service sees it: an issuer, a private key, its kid and algorithm."""

    issuer: str
    key: PrivateKey
    kid: str
    alg: str
    jku: str | None = None
    tenant: str | None = None
    extra_header: dict[str, Any] = field(default_factory=dict)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key, self.kid, self.alg)]}

    def claims(
        self, aud: str | list[str], *, now: float | None = None, lifetime: int = 300
    ) -> dict[str, Any]:
        iat = round(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": aud,
            "iat": iat,
            "exp": iat + lifetime,
            "jti": str(uuid.uuid4()),
        }
        if self.tenant:
            claims["tenant"] = self.tenant
        return claims

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers: dict[str, Any] = {"kid": self.kid, "typ": "JWT", **self.extra_header}
        if self.jku:
            headers["jku"] = self.jku
        headers.update(header)
        headers = {name: value for name, value in headers.items() if value is not None}
        return jwt.encode(claims, self.key, algorithm=headers.pop("alg", self.alg), headers=headers)

    def token(self, aud: str | list[str], **claims_overrides: Any) -> str:
        claims = self.claims(aud)
        claims.update(claims_overrides)
        return self.sign(claims)


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    """alg none: header and payload with an empty signature."""
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})


def hs256_with_public_key(claims: dict[str, Any], client: SigningClient) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the client's public key."""
    public_pem = client.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": client.kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
