"""`cds-service demo`: send every fixture scenario to a running service and show its cards.

Each scenario goes out with full prefetch and a fresh hookInstance, dated as of now (see
`cds_service.fixtures`). The cards are printed for a person to read, with whether the visible
topics match what the clinical spec predicts. Given `--issuer` and `--key`, every call carries a
client JWT (CDS Hooks §Trusting CDS Clients), so the demo also works against `CDS_AUTH=jwt`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from cds_service.fixtures import FixtureError, Scenario, load_scenarios

SERVICE_PATH = "/cds-services/calcification-report-sign"
TOKEN_LIFETIME_S = 300
DETAIL_LINES = 4
_EC_ALGORITHM = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class DemoError(RuntimeError):
    """The demo cannot run at all (bad key, no fixtures); the message says why."""


@dataclass(frozen=True)
class ClientSigner:
    """Signs one JWT per call: iss, aud = the exact URL called, iat, exp, jti."""

    issuer: str
    key: EllipticCurvePrivateKey | RSAPrivateKey
    algorithm: str
    kid: str

    def token(self, audience: str) -> str:
        issued_at = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.issuer,
            "aud": audience,
            "iat": issued_at,
            "exp": issued_at + TOKEN_LIFETIME_S,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers={"kid": self.kid, "typ": "JWT"})


def run_demo(
    url: str, *, fixtures: str | Path | None, issuer: str | None, key_file: str | None, kid: str | None
) -> int:
    """0 when every scenario's visible topics match expected.json, else 1 (2: cannot run)."""
    try:
        signer = load_signer(issuer, key_file, kid)
        scenarios = load_scenarios(datetime.now(UTC), root=Path(fixtures) if fixtures else None)
    except (DemoError, FixtureError) as error:
        print(f"cds-service demo: {error}")
        return 2
    endpoint = url.rstrip("/") + SERVICE_PATH
    print(f"Sending {len(scenarios)} scenarios to {endpoint}\n")
    try:
        with httpx.Client(timeout=10.0) as client:
            matches = [send_scenario(client, endpoint, scenario, signer) for scenario in scenarios]
    except httpx.TransportError as error:
        print(f"cds-service demo: cannot reach the service at {url}: {error}")
        return 2
    print(f"{sum(matches)}/{len(matches)} scenarios returned their expected topics")
    return 0 if all(matches) else 1


def load_signer(issuer: str | None, key_file: str | None, kid: str | None) -> ClientSigner | None:
    if not issuer and not key_file:
        return None
    if not issuer or not key_file:
        raise DemoError("--issuer and --key go together")
    try:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise DemoError(f"cannot read the private key {key_file}: {error}") from None
    if isinstance(key, EllipticCurvePrivateKey):
        algorithm = _EC_ALGORITHM.get(key.curve.name)
        if algorithm is None:
            raise DemoError(f"unsupported EC curve {key.curve.name}")
    elif isinstance(key, RSAPrivateKey):
        algorithm = "RS384"
    else:
        raise DemoError("the key must be an EC or RSA private key")
    return ClientSigner(issuer=issuer, key=key, algorithm=algorithm, kid=kid or jwk_thumbprint(key))


def jwk_thumbprint(key: EllipticCurvePrivateKey | RSAPrivateKey) -> str:
    """RFC 7638: SHA-256 of the public JWK's required members, sorted, without whitespace."""
    public = key.public_key()
    if isinstance(public, RSAPublicKey):
        numbers = public.public_numbers()
        members = {"e": _b64_int(numbers.e), "kty": "RSA", "n": _b64_int(numbers.n)}
    else:
        ec_numbers = public.public_numbers()
        size = (public.curve.key_size + 7) // 8
        members = {
            "crv": _JWK_CURVE[public.curve.name],
            "kty": "EC",
            "x": _b64_int(ec_numbers.x, size),
            "y": _b64_int(ec_numbers.y, size),
        }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


_JWK_CURVE = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _b64_int(value: int, size: int | None = None) -> str:
    length = size or max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(length, "big"))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def send_scenario(
    client: httpx.Client, endpoint: str, scenario: Scenario, signer: ClientSigner | None
) -> bool:
    """Print one scenario's cards; True when its visible topics are the expected ones."""
    print(f"== {scenario.name}: {scenario.expected.description}")
    headers = {"Authorization": f"Bearer {signer.token(endpoint)}"} if signer else {}
    response = client.post(endpoint, json=scenario.request(), headers=headers)
    if response.status_code != httpx.codes.OK:
        print(f"   ERROR HTTP {response.status_code}: {response.text[:300]}\n")
        return False
    cards = response.json().get("cards", [])
    for card in cards:
        print_card(card)
    return report_match(scenario, card_topics(cards))


def card_topics(cards: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(str(card.get("source", {}).get("topic", {}).get("code", "?")) for card in cards))


def print_card(card: dict[str, Any]) -> None:
    topic = card.get("source", {}).get("topic", {}).get("code", "?")
    print(f"   [{card.get('indicator', '?')}] {topic}: {card.get('summary', '')}")
    for suggestion in card.get("suggestions", []):
        marker = " (recommended)" if suggestion.get("isRecommended") else ""
        print(f"      * {suggestion.get('label', '')}{marker}")
    detail_lines = [line for line in str(card.get("detail", "")).splitlines() if line.strip()]
    for line in detail_lines[:DETAIL_LINES]:
        print(f"      | {line}")


def report_match(scenario: Scenario, topics: tuple[str, ...]) -> bool:
    expected = scenario.expected.topics
    shown = ", ".join(topics) or "no cards"
    if topics == expected:
        print(f"   OK   topics: {shown}\n")
        return True
    print(f"   MISMATCH topics: {shown}; expected: {', '.join(expected) or 'no cards'}\n")
    return False
