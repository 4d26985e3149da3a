"""The token verifier, check by check (CDS Hooks 2.0 §Trusting CDS Clients; checklist §6.2)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cds_service.errors import Unauthorized
from cds_service.security.clients import TrustedClient, TrustedClients
from cds_service.security.jwks import JwksUnavailable, RemoteKeySets
from cds_service.security.keys import parse_jwks
from cds_service.security.tokens import TokenPolicy, TokenVerifier, endpoint_identity
from tests.unit.security.minting import (
    SANDBOX_ISSUER,
    SANDBOX_JKU,
    SANDBOX_KID,
    SigningClient,
    ec_p384_key,
    hs256_with_public_key,
    rsa_key,
    unsigned_token,
)

pytestmark = pytest.mark.anyio

AUD = "https://cds.example.org/cds-services"
EPIC_JWKS = "https://epic.example.org/jwks"
EHR = SigningClient("https://ehr.example.org", ec_p384_key("ehr"), "ehr-1", "ES384")
SANDBOX = SigningClient(SANDBOX_ISSUER, ec_p384_key("sandbox"), SANDBOX_KID, "ES384", jku=SANDBOX_JKU)
EPIC = SigningClient("https://epic.example.org", rsa_key("epic"), "epic-1", "RS384", jku=EPIC_JWKS)
TENANTED = SigningClient("https://tenant.example.org", ec_p384_key("tenant"), "t-1", "ES384", tenant="hosp-a")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeJwksHost:
    """Serves JWK Sets by URL and records every fetch (a fetch is an outbound connection)."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.fetched: list[str] = []

    async def __call__(self, url: str) -> object:
        self.fetched.append(url)
        if url not in self.documents:
            raise JwksUnavailable(url)
        return self.documents[url]


def _client(signer: SigningClient, **overrides: Any) -> TrustedClient:
    fields: dict[str, Any] = {
        "issuer": signer.issuer,
        "fhir_servers": frozenset({"https://fhir.example.org/r4"}),
        "configured_keys": parse_jwks(signer.jwks(), strict=True),
        "tenant": signer.tenant,
    }
    fields.update(overrides)
    return TrustedClient(**fields)


def _clients() -> TrustedClients:
    return TrustedClients(
        {
            EHR.issuer: _client(EHR),
            SANDBOX.issuer: _client(SANDBOX, jku_allowed=frozenset({SANDBOX_JKU})),
            EPIC.issuer: _client(
                EPIC, configured_keys={}, jwks_url=EPIC_JWKS, jku_allowed=frozenset({EPIC_JWKS})
            ),
            TENANTED.issuer: _client(TENANTED),
        }
    )


@pytest.fixture
def host() -> FakeJwksHost:
    return FakeJwksHost({EPIC_JWKS: EPIC.jwks()})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(host: FakeJwksHost, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(
        _clients(), RemoteKeySets(host, 60, clock), TokenPolicy(max_lifetime_s=300, leeway_s=5)
    )


async def refusal(verifier: TokenVerifier, token: str, aud: str = AUD) -> str:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token, aud)
    return caught.value.reason


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = EHR.claims(AUD)
    claims.update(overrides)
    return claims


def _without(claim: str) -> dict[str, Any]:
    claims = EHR.claims(AUD)
    del claims[claim]
    return claims


OTHER_KEY = SigningClient(EHR.issuer, ec_p384_key("attacker"), EHR.kid, "ES384")
P256_SAME_KID = SigningClient(EHR.issuer, ec.generate_private_key(ec.SECP256R1()), EHR.kid, "ES256")
RSA_SAME_KID = SigningClient(EHR.issuer, rsa_key("attacker"), EHR.kid, "RS384")
REFUSALS = [
    ("malformed", lambda: "not-a-jwt", "malformed-token"),
    ("alg-none", lambda: unsigned_token(_claims(), EHR.kid), "alg-not-allowed"),
    ("hs256-with-public-key", lambda: hs256_with_public_key(_claims(), EHR), "alg-not-allowed"),
    ("no-kid", lambda: EHR.sign(_claims(), kid=None), "kid-missing"),
    ("wrong-key", lambda: OTHER_KEY.sign(_claims()), "bad-signature"),
    ("unknown-kid", lambda: EHR.sign(_claims(), kid="nobody"), "unknown-kid"),
    ("untrusted-jku", lambda: EHR.sign(_claims(), jku="https://evil.example/jwks"), "jku-not-allowed"),
    ("untrusted-iss", lambda: EHR.sign(_claims(iss="https://evil.example")), "untrusted-issuer"),
    ("no-iss", lambda: EHR.sign(_without("iss")), "untrusted-issuer"),
    ("wrong-aud", lambda: EHR.sign(_claims(aud=AUD + "/other")), "wrong-audience"),
    ("wrong-aud-host", lambda: EHR.sign(_claims(aud="https://evil.example/cds-services")), "wrong-audience"),
    ("no-aud", lambda: EHR.sign(_without("aud")), "missing-claim"),
    ("aud-not-string", lambda: EHR.sign(_claims(aud=42)), "malformed-token"),
    ("expired", lambda: EHR.sign(EHR.claims(AUD, now=time.time() - 400)), "expired"),
    ("iat-in-future", lambda: EHR.sign(EHR.claims(AUD, now=time.time() + 30)), "not-yet-valid"),
    ("nbf-in-future", lambda: EHR.sign(_claims(nbf=round(time.time()) + 30)), "not-yet-valid"),
    ("lifetime-301", lambda: EHR.sign(EHR.claims(AUD, lifetime=301)), "lifetime-too-long"),
    ("no-exp", lambda: EHR.sign(_without("exp")), "missing-claim"),
    ("no-iat", lambda: EHR.sign(_without("iat")), "missing-claim"),
    ("no-jti", lambda: EHR.sign(_without("jti")), "missing-claim"),
    ("empty-jti", lambda: EHR.sign(_claims(jti=" ")), "missing-claim"),
    ("wrong-tenant", lambda: TENANTED.sign({**TENANTED.claims(AUD), "tenant": "hosp-b"}), "wrong-tenant"),
    (
        "no-tenant",
        lambda: TENANTED.sign({k: v for k, v in TENANTED.claims(AUD).items() if k != "tenant"}),
        "wrong-tenant",
    ),
    ("es256-for-a-p384-kid", lambda: P256_SAME_KID.sign(_claims()), "key-mismatch"),
    ("rs384-for-an-ec-kid", lambda: RSA_SAME_KID.sign(_claims()), "key-mismatch"),
]


@pytest.mark.parametrize(
    ("make_token", "reason"), [(m, r) for _, m, r in REFUSALS], ids=[i for i, _, _ in REFUSALS]
)
async def test_refused_tokens_name_the_failed_check(
    verifier: TokenVerifier, host: FakeJwksHost, make_token: Any, reason: str
) -> None:
    assert await refusal(verifier, make_token()) == reason
    assert host.fetched == []  # no refusal of a client with configured keys reaches the network


async def test_a_valid_token_names_its_client_and_jti(verifier: TokenVerifier) -> None:
    claims = EHR.claims(AUD)
    verified = await verifier.verify(EHR.sign(claims), AUD)
    assert verified.client.issuer == EHR.issuer
    assert verified.jti == claims["jti"]
    assert verified.expires_at == claims["exp"]


async def test_aud_may_be_an_array_containing_the_endpoint(verifier: TokenVerifier) -> None:
    await verifier.verify(EHR.token([AUD + "/x", AUD]), AUD)


@pytest.mark.parametrize(
    "aud",
    [AUD + "/", "https://cds.example.org//cds-services", "HTTPS://CDS.example.org/cds-services"],
    ids=["trailing-slash", "sandbox-double-slash", "host-case"],
)
async def test_aud_ignores_slash_and_case_noise(verifier: TokenVerifier, aud: str) -> None:
    await verifier.verify(EHR.token(aud), AUD)


async def test_no_sub_is_required_and_lifetime_300_is_inclusive(verifier: TokenVerifier) -> None:
    await verifier.verify(EHR.sign(EHR.claims(AUD, lifetime=300)), AUD)


async def test_sandbox_style_token_with_rounded_iat_is_accepted(
    verifier: TokenVerifier, host: FakeJwksHost
) -> None:
    """iat = round(now + 0.5): up to a second ahead of us; exp = iat + 300 exactly."""
    iat = round(time.time() + 0.5)
    claims = {**SANDBOX.claims(AUD), "iat": iat, "exp": iat + 300}
    verified = await verifier.verify(SANDBOX.sign(claims), AUD)
    assert verified.client.issuer == SANDBOX_ISSUER
    assert host.fetched == []  # its jku is listed but its kid is configured: never fetched


async def test_a_tenant_that_matches_is_accepted(verifier: TokenVerifier) -> None:
    await verifier.verify(TENANTED.token(AUD), AUD)


async def test_epic_style_rs384_with_jku_fetches_the_listed_jwks_once(
    verifier: TokenVerifier, host: FakeJwksHost
) -> None:
    await verifier.verify(EPIC.token(AUD), AUD)
    await verifier.verify(EPIC.token(AUD), AUD)
    assert host.fetched == [EPIC_JWKS]


async def test_unknown_kid_refetch_is_rate_limited(
    verifier: TokenVerifier, host: FakeJwksHost, clock: FakeClock
) -> None:
    await verifier.verify(EPIC.token(AUD), AUD)
    for _ in range(3):
        assert await refusal(verifier, EPIC.sign(EPIC.claims(AUD), kid="made-up")) == "unknown-kid"
    assert host.fetched == [EPIC_JWKS]  # fetched on first use; made-up kids within 60 s fetch nothing
    clock.now += 60
    for _ in range(3):
        assert await refusal(verifier, EPIC.sign(EPIC.claims(AUD), kid="made-up")) == "unknown-kid"
    assert host.fetched == [EPIC_JWKS] * 2


async def test_a_rotated_key_is_picked_up_on_refetch(
    verifier: TokenVerifier, host: FakeJwksHost, clock: FakeClock
) -> None:
    await verifier.verify(EPIC.token(AUD), AUD)
    rotated = SigningClient(EPIC.issuer, rsa_key("epic-2"), "epic-2", "RS384", jku=EPIC_JWKS)
    host.documents[EPIC_JWKS] = {"keys": [*EPIC.jwks()["keys"], *rotated.jwks()["keys"]]}
    clock.now += 60
    await verifier.verify(rotated.token(AUD), AUD)


async def test_jwks_outage_keeps_cached_keys_after_max_age(
    verifier: TokenVerifier, host: FakeJwksHost, clock: FakeClock
) -> None:
    await verifier.verify(EPIC.token(AUD), AUD)
    del host.documents[EPIC_JWKS]
    clock.now += 7200
    await verifier.verify(EPIC.token(AUD), AUD)
    assert host.fetched == [EPIC_JWKS, EPIC_JWKS]


async def test_jwks_unreachable_on_first_use_is_a_refusal(
    verifier: TokenVerifier, host: FakeJwksHost
) -> None:
    del host.documents[EPIC_JWKS]
    assert await refusal(verifier, EPIC.token(AUD)) == "unknown-kid"


async def test_a_jku_not_listed_is_refused_before_any_fetch(
    verifier: TokenVerifier, host: FakeJwksHost
) -> None:
    token = EPIC.sign(EPIC.claims(AUD), jku="https://evil.example/jwks")
    assert await refusal(verifier, token) == "jku-not-allowed"
    assert host.fetched == []


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        ("https://Cds.Example.org//cds-services//x/", "https://cds.example.org/cds-services/x"),
        ("http://127.0.0.1:8080/cds-services", "http://127.0.0.1:8080/cds-services"),
    ],
)
def test_endpoint_identity(url: str, identity: str) -> None:
    assert endpoint_identity(url) == identity
