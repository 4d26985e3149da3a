"""Public keys a client signs with, parsed once from a JWK Set (RFC 7517).

Keys are turned into `cryptography` objects when a JWKS is loaded, not per token, and each key
says which signing algorithms it can verify, so a token's `alg` can never pick a weaker or
different verification than the key was published for (algorithm confusion).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

log = logging.getLogger("cds_service.security")

#: The only signing algorithms a client token may use: asymmetric, as the CDS Hooks spec asks.
ALLOWED_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
_EC_CURVE_FOR_ALG = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
MIN_RSA_BITS = 2048

PublicKey = EllipticCurvePublicKey | RSAPublicKey


class KeySetError(ValueError):
    """A JWK Set (or one key in it) cannot be used; the message says why."""


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    key: PublicKey
    alg: str | None  # the JWK's own `alg`, when it pins one

    def verifies(self, alg: str) -> bool:
        """True when a token signed with `alg` may be checked with this key."""
        if self.alg is not None and self.alg != alg:
            return False
        if isinstance(self.key, EllipticCurvePublicKey):
            return _EC_CURVE_FOR_ALG.get(alg) == self.key.curve.name
        return alg[:2] in ("RS", "PS")


def parse_jwks(document: object, *, strict: bool) -> dict[str, VerificationKey]:
    """Keys by `kid`.

    `strict` is for keys an operator configured (inline or file): any unusable key is an error
    that stops start-up. A JWKS fetched from a client's URL may also hold encryption or other
    keys; those are skipped.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetError("a JWK Set must be an object with a 'keys' array")
    keys: dict[str, VerificationKey] = {}
    for position, entry in enumerate(document["keys"]):
        try:
            key = parse_jwk(entry)
        except KeySetError as exc:
            if strict:
                raise KeySetError(f"keys[{position}]: {exc}") from None
            log.debug("skipping unusable key keys[%d] in a fetched JWKS: %s", position, exc)
            continue
        if key.kid in keys:
            raise KeySetError(f"keys[{position}]: kid '{key.kid}' appears twice")
        keys[key.kid] = key
    return keys


def parse_jwk(entry: object) -> VerificationKey:
    """One signature-verification key; private parts, if any, are ignored."""
    if not isinstance(entry, Mapping):
        raise KeySetError("a key must be a JSON object")
    kid, alg = entry.get("kid"), entry.get("alg")
    if not isinstance(kid, str) or not kid:
        raise KeySetError("'kid' is required")
    if entry.get("use", "sig") != "sig":
        raise KeySetError(f"kid '{kid}': 'use' is '{entry.get('use')}', not 'sig'")
    if alg is not None and alg not in ALLOWED_ALGORITHMS:
        raise KeySetError(f"kid '{kid}': alg '{alg}' is not an allowed signing algorithm")
    if entry.get("kty") not in ("EC", "RSA"):
        raise KeySetError(f"kid '{kid}': kty must be EC or RSA")
    public_key = _public_key(dict(entry), kid)
    if isinstance(public_key, RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        raise KeySetError(f"kid '{kid}': RSA key of {public_key.key_size} bits (need {MIN_RSA_BITS})")
    verification_key = VerificationKey(kid=kid, key=public_key, alg=alg)
    if alg is not None and not verification_key.verifies(alg):
        raise KeySetError(f"kid '{kid}': alg '{alg}' does not fit the key")
    return verification_key


def _public_key(entry: dict[str, Any], kid: str) -> PublicKey:
    try:
        parsed = jwt.PyJWK(entry).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise KeySetError(f"kid '{kid}': not a valid EC or RSA key ({exc})") from None
    public = parsed.public_key() if hasattr(parsed, "public_key") else parsed
    if not isinstance(public, (EllipticCurvePublicKey, RSAPublicKey)):
        raise KeySetError(f"kid '{kid}': not an EC or RSA public key")
    return public
