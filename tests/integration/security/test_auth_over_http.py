"""The security gate through the app's real HTTP stack (in process, httpx ASGI transport).

Every refusal is a 401 with `WWW-Authenticate: Bearer` and no detail, counted by reason; no
refusal makes an outbound connection (respx is active and counts every outbound request).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from prometheus_client import REGISTRY

from tests.integration.security.conftest import (
    BASE,
    EHR,
    EHR_FHIR,
    EPIC,
    EPIC_JWKS,
    SANDBOX,
    SERVICE,
    TENANTED,
    asgi_client,
    bearer,
    build_app,
    jwt_settings,
    report_sign_body,
)
from tests.unit.security.minting import (
    SANDBOX_JKU,
    SigningClient,
    ec_p384_key,
    hs256_with_public_key,
    unsigned_token,
)

pytestmark = pytest.mark.anyio

DISCOVERY_URL = f"{BASE}/cds-services"
SERVICE_URL = f"{BASE}/cds-services/{SERVICE}"
FEEDBACK_URL = f"{SERVICE_URL}/feedback"


@pytest.fixture
def outbound() -> Iterator[respx.MockRouter]:
    """Every outbound HTTP request the app makes, recorded; only Epic's JWKS is answered."""
    with respx.mock(assert_all_called=False) as router:
        router.get(EPIC_JWKS).respond(json=EPIC.jwks())
        router.route().respond(404)
        yield router


@pytest.fixture
async def service(clients_file: Path, outbound: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(build_app(jwt_settings(clients_file))) as client:
        yield client


def claims_for(aud: str, **overrides: Any) -> dict[str, Any]:
    claims = EHR.claims(aud)
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


ATTACKER = SigningClient(EHR.issuer, ec_p384_key("attacker"), EHR.kid, "ES384")
Header = Callable[[str], dict[str, str]]

# (id, headers for a call to the given aud, reason counted in cds_auth_failures_total)
REFUSALS: list[tuple[str, Header, str]] = [
    ("no-header", lambda aud: {}, "missing-token"),
    ("not-bearer", lambda aud: {"Authorization": "Basic dXNlcjpwdw=="}, "malformed-authorization"),
    ("malformed", lambda aud: bearer("not.a.jwt"), "malformed-token"),
    ("alg-none", lambda aud: bearer(unsigned_token(claims_for(aud), EHR.kid)), "alg-not-allowed"),
    (
        "hs256-signed-with-public-key",
        lambda aud: bearer(hs256_with_public_key(claims_for(aud), EHR)),
        "alg-not-allowed",
    ),
    ("wrong-key", lambda aud: bearer(ATTACKER.sign(claims_for(aud))), "bad-signature"),
    ("unknown-kid", lambda aud: bearer(EHR.sign(claims_for(aud), kid="who")), "unknown-kid"),
    (
        "untrusted-jku",
        lambda aud: bearer(EHR.sign(claims_for(aud), jku="https://attacker.example/jwks")),
        "jku-not-allowed",
    ),
    ("wrong-aud", lambda aud: bearer(EHR.sign(claims_for(aud + "-other"))), "wrong-audience"),
    ("expired", lambda aud: bearer(EHR.sign(EHR.claims(aud, now=time.time() - 600))), "expired"),
    (
        "iat-beyond-leeway",
        lambda aud: bearer(EHR.sign(EHR.claims(aud, now=time.time() + 60))),
        "not-yet-valid",
    ),
    ("lifetime-too-long", lambda aud: bearer(EHR.sign(EHR.claims(aud, lifetime=301))), "lifetime-too-long"),
    ("missing-jti", lambda aud: bearer(EHR.sign(claims_for(aud, jti=None))), "missing-claim"),
    (
        "untrusted-iss",
        lambda aud: bearer(EHR.sign(claims_for(aud, iss="https://stranger.example"))),
        "untrusted-issuer",
    ),
    (
        "wrong-tenant",
        lambda aud: bearer(TENANTED.sign({**TENANTED.claims(aud), "tenant": "hosp-b"})),
        "wrong-tenant",
    ),
]
ENDPOINTS = [
    ("discovery", "GET", DISCOVERY_URL),
    ("service", "POST", SERVICE_URL),
    ("feedback", "POST", FEEDBACK_URL),
]


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("cds_auth_failures_total", {"reason": reason}) or 0.0


async def call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
    if method == "GET":
        return await client.get(url, headers=headers)
    body = feedback_body() if url.endswith("/feedback") else report_sign_body()
    return await client.post(url, headers=headers, json=body)


def feedback_body() -> dict[str, Any]:
    """What the sandbox sends when a card is dismissed."""
    return {
        "feedback": [
            {
                "card": str(uuid.uuid4()),
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-24T17:51:39.414Z",
            }
        ]
    }


@pytest.mark.parametrize(
    ("method", "url"), [(m, u) for _, m, u in ENDPOINTS], ids=[i for i, _, _ in ENDPOINTS]
)
@pytest.mark.parametrize(
    ("make_headers", "reason"), [(h, r) for _, h, r in REFUSALS], ids=[i for i, _, _ in REFUSALS]
)
async def test_refusal_is_a_bare_401_counted_by_reason_with_no_outbound_call(
    service: httpx.AsyncClient,
    outbound: respx.MockRouter,
    method: str,
    url: str,
    make_headers: Header,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = failures(reason)
    headers = make_headers(url)
    response = await call(service, method, url, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert reason not in response.text  # no detail about which check failed
    assert failures(reason) == before + 1
    assert reason in caplog.text
    token = headers.get("Authorization", "").partition(" ")[2]
    assert not token or token not in caplog.text  # never log the token
    assert outbound.calls.call_count == 0


async def test_a_replayed_jti_is_refused(service: httpx.AsyncClient) -> None:
    headers = bearer(EHR.token(DISCOVERY_URL))
    assert (await service.get("/cds-services", headers=headers)).status_code == 200
    replay = await service.get("/cds-services", headers=headers)
    assert replay.status_code == 401
    assert replay.headers["www-authenticate"] == "Bearer"


async def test_an_unlisted_fhir_server_is_403_before_any_connection(
    service: httpx.AsyncClient, outbound: respx.MockRouter
) -> None:
    body = report_sign_body(fhir_server="https://elsewhere.example.org/fhir")
    response = await service.post(
        f"/cds-services/{SERVICE}", headers=bearer(EHR.token(SERVICE_URL)), json=body
    )
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"
    assert outbound.calls.call_count == 0


async def test_another_clients_fhir_server_is_403_too(service: httpx.AsyncClient) -> None:
    body = report_sign_body(fhir_server="https://fhir.epic.example.org/api/FHIR/R4")
    response = await service.post(
        f"/cds-services/{SERVICE}", headers=bearer(EHR.token(SERVICE_URL)), json=body
    )
    assert response.status_code == 403


async def test_a_valid_token_reaches_the_service_which_judges_the_body(service: httpx.AsyncClient) -> None:
    body = report_sign_body(fhir_server=EHR_FHIR + "/")  # listed; the trailing slash is ignored
    body["context"] = "not an object"
    response = await service.post(
        f"/cds-services/{SERVICE}", headers=bearer(EHR.token(SERVICE_URL)), json=body
    )
    assert response.status_code == 400


async def test_an_unknown_service_is_404_after_authentication(service: httpx.AsyncClient) -> None:
    url = f"{BASE}/cds-services/no-such-service"
    assert (await service.post(url, json=report_sign_body())).status_code == 401
    response = await service.post(url, headers=bearer(EHR.token(url)), json=report_sign_body())
    assert response.status_code == 404


async def test_es384_client_with_inline_keys_is_accepted(service: httpx.AsyncClient) -> None:
    response = await service.get("/cds-services", headers=bearer(EHR.token(DISCOVERY_URL)))
    assert response.status_code == 200
    assert response.json()["services"]


async def test_aud_as_an_array_is_accepted(service: httpx.AsyncClient) -> None:
    token = EHR.token([SERVICE_URL, DISCOVERY_URL])
    assert (await service.get("/cds-services", headers=bearer(token))).status_code == 200


async def test_sandbox_style_token_is_accepted_without_fetching_its_jku(
    service: httpx.AsyncClient, outbound: respx.MockRouter
) -> None:
    """ES384, iat rounded up by 0.5 s, exp = iat + 300, jku to a host we never contact."""
    iat = round(time.time() + 0.5)
    token = SANDBOX.sign({**SANDBOX.claims(DISCOVERY_URL), "iat": iat, "exp": iat + 300})
    response = await service.get("/cds-services", headers=bearer(token))
    assert response.status_code == 200
    assert not any(call.request.url.host == "sandbox.cds-hooks.org" for call in outbound.calls)
    assert outbound.calls.call_count == 0
    assert SANDBOX.jku == SANDBOX_JKU


async def test_sandbox_double_slash_service_url_is_accepted(service: httpx.AsyncClient) -> None:
    """A discovery URL ending in `/` makes the sandbox call `…/cds-services//{id}`, aud alike."""
    url = f"{BASE}/cds-services//{SERVICE}"
    body = report_sign_body()
    body["context"] = []
    response = await service.post(url, headers=bearer(SANDBOX.token(url)), json=body)
    assert response.status_code not in (401, 404)


async def test_epic_style_rs384_with_listed_jku_is_accepted_fetching_once(
    service: httpx.AsyncClient, outbound: respx.MockRouter
) -> None:
    for _ in range(3):
        response = await service.get("/cds-services", headers=bearer(EPIC.token(DISCOVERY_URL)))
        assert response.status_code == 200
    assert [str(call.request.url) for call in outbound.calls] == [EPIC_JWKS]


async def test_public_base_url_decides_the_audience(clients_file: Path) -> None:
    settings = jwt_settings(clients_file, public_base_url="https://cds.example.org/")
    async with asgi_client(build_app(settings)) as client:
        public = await client.get(
            "/cds-services", headers=bearer(EHR.token("https://cds.example.org/cds-services"))
        )
        internal = await client.get("/cds-services", headers=bearer(EHR.token(DISCOVERY_URL)))
    assert public.status_code == 200
    assert internal.status_code == 401


async def test_oversized_body_is_413_and_deep_json_is_400(clients_file: Path) -> None:
    async with asgi_client(build_app(jwt_settings(clients_file, max_body_bytes=2048))) as client:
        big = report_sign_body()
        big["padding"] = "x" * 4096
        too_large = await client.post(SERVICE_URL, headers=bearer(EHR.token(SERVICE_URL)), json=big)
        deep = b'{"hook": ' + b"[" * 100 + b"]" * 100 + b"}"
        headers = {**bearer(EHR.token(SERVICE_URL)), "Content-Type": "application/json"}
        too_deep = await client.post(SERVICE_URL, headers=headers, content=deep)
    assert too_large.status_code == 413
    assert too_deep.status_code == 400
    assert too_deep.json()["issue"][0]["code"] == "too-costly"


async def test_rate_limit_is_429_with_retry_after_per_client(clients_file: Path) -> None:
    async with asgi_client(build_app(jwt_settings(clients_file, rate_limit_per_client=1))) as client:
        statuses = [
            (await client.get("/cds-services", headers=bearer(EHR.token(DISCOVERY_URL)))).status_code
            for _ in range(3)
        ]
        limited = await client.get(
            "/cds-services", headers={**bearer(EHR.token(DISCOVERY_URL)), "Origin": "http://127.0.0.1:8090"}
        )
        other_client = await client.get("/cds-services", headers=bearer(SANDBOX.token(DISCOVERY_URL)))
    assert statuses == [200, 200, 429]  # burst of twice the sustained rate
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["access-control-allow-origin"] == "*"
    assert other_client.status_code == 200


async def test_feedback_with_its_own_url_as_aud_is_accepted(service: httpx.AsyncClient) -> None:
    response = await service.post(
        FEEDBACK_URL, headers=bearer(SANDBOX.token(FEEDBACK_URL)), json=feedback_body()
    )
    assert response.status_code == 200


async def test_feedback_with_the_service_url_as_aud_is_refused(service: httpx.AsyncClient) -> None:
    response = await service.post(FEEDBACK_URL, headers=bearer(EHR.token(SERVICE_URL)), json=feedback_body())
    assert response.status_code == 401


FIXTURES = Path(__file__).resolve().parents[3] / "fhir_fixtures"


async def test_a_signed_report_sign_call_with_a_fixture_scenario_is_answered(
    service: httpx.AsyncClient,
) -> None:
    requests = sorted(FIXTURES.glob("*/request.json"))
    if not requests:
        pytest.skip("no fhir_fixtures/*/request.json yet")
    body = json.loads(requests[0].read_text())
    body["fhirServer"] = EHR_FHIR  # the calling client's own server; prefetch is complete
    body.pop("fhirAuthorization", None)
    response = await service.post(SERVICE_URL, headers=bearer(EHR.token(SERVICE_URL)), json=body)
    assert response.status_code == 200
    assert "cards" in response.json()
