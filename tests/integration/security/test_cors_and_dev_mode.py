"""CORS for browser clients (the sandbox) and CDS_AUTH=off (design decision 2)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cds_service.settings import Settings
from tests.integration.security.conftest import (
    BASE,
    EHR,
    EHR_FHIR,
    SANDBOX_FHIR,
    SERVICE,
    asgi_client,
    bearer,
    build_app,
    jwt_settings,
    report_sign_body,
)

pytestmark = pytest.mark.anyio

SANDBOX_ORIGIN = "http://127.0.0.1:8090"


def preflight(method: str, headers: str, origin: str = SANDBOX_ORIGIN) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize(
    ("path", "method", "request_headers"),
    [
        ("/cds-services", "GET", "authorization"),
        (f"/cds-services/{SERVICE}", "POST", "authorization,content-type"),
        (f"/cds-services//{SERVICE}", "POST", "authorization,content-type"),
        (f"/cds-services/{SERVICE}/feedback", "POST", "authorization,content-type"),
    ],
    ids=["discovery", "service", "service-double-slash", "feedback"],
)
async def test_preflight_without_authorization_is_2xx_with_the_right_headers(
    clients_file: Path, path: str, method: str, request_headers: str
) -> None:
    async with asgi_client(build_app(jwt_settings(clients_file))) as client:
        response = await client.options(path, headers=preflight(method, request_headers))
    assert 200 <= response.status_code < 300
    assert response.headers["access-control-allow-origin"] == "*"
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert method in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


async def test_exact_origins_are_echoed_and_others_refused(clients_file: Path) -> None:
    settings = jwt_settings(clients_file, cors_origins=f"{SANDBOX_ORIGIN},http://localhost:8090")
    async with asgi_client(build_app(settings)) as client:
        allowed = await client.options("/cds-services", headers=preflight("GET", "authorization"))
        other = await client.options(
            "/cds-services", headers=preflight("GET", "authorization", origin="http://evil.example")
        )
        real = await client.get(
            "/cds-services", headers={**bearer(EHR.token(f"{BASE}/cds-services")), "Origin": SANDBOX_ORIGIN}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SANDBOX_ORIGIN
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert real.status_code == 200
    assert real.headers["access-control-allow-origin"] == SANDBOX_ORIGIN


async def test_error_answers_carry_cors_headers_so_a_browser_sees_the_status(clients_file: Path) -> None:
    origin = {"Origin": SANDBOX_ORIGIN}
    service_url = f"{BASE}/cds-services/{SERVICE}"
    async with asgi_client(build_app(jwt_settings(clients_file))) as client:
        unauthorized = await client.get("/cds-services", headers=origin)
        forbidden = await client.post(
            service_url,
            headers={**origin, **bearer(EHR.token(service_url))},
            json=report_sign_body("https://elsewhere.example/fhir"),
        )
        bad_request = await client.post(
            service_url, headers={**origin, **bearer(EHR.token(service_url))}, json={"hook": 1}
        )
    for response, status in ((unauthorized, 401), (forbidden, 403), (bad_request, 400)):
        assert response.status_code == status
        assert response.headers["access-control-allow-origin"] == "*"


async def test_auth_off_accepts_anyone_and_warns_on_every_call(caplog: pytest.LogCaptureFixture) -> None:
    async with asgi_client(build_app(Settings(auth="off"))) as client:
        with caplog.at_level(logging.WARNING, "cds_service.security"):
            first = await client.get("/cds-services")
            second = await client.get("/cds-services", headers={"Authorization": "Bearer junk"})
    assert first.status_code == second.status_code == 200
    assert caplog.text.count("CDS_AUTH=off") >= 2


async def test_auth_off_without_clients_file_allows_any_fhir_server() -> None:
    async with asgi_client(build_app(Settings(auth="off"))) as client:
        body = report_sign_body("https://anywhere.example/fhir")
        body["context"] = []
        response = await client.post(f"/cds-services/{SERVICE}", json=body)
    assert response.status_code == 400  # past the allowlist, refused only for the body


async def test_auth_off_with_clients_file_allows_the_union_of_their_servers(clients_file: Path) -> None:
    async with asgi_client(build_app(Settings(auth="off", clients_file=clients_file))) as client:
        listed = []
        for server in (EHR_FHIR, SANDBOX_FHIR):
            body = report_sign_body(server)
            body["context"] = []
            listed.append((await client.post(f"/cds-services/{SERVICE}", json=body)).status_code)
        unlisted = await client.post(f"/cds-services/{SERVICE}", json=report_sign_body("https://x.example/f"))
    assert listed == [400, 400]
    assert unlisted.status_code == 403


async def test_auth_off_rate_limits_per_remote_address() -> None:
    async with asgi_client(build_app(Settings(auth="off", rate_limit_per_client=1))) as client:
        statuses = [(await client.get("/cds-services")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
