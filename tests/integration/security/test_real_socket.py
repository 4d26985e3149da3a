"""The same gate over a real socket: uvicorn on 127.0.0.1, a local JWKS server for the
Epic-style client, and a local server standing in for an unlisted FHIR server that counts
every connection made to it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.security.conftest import (
    EHR,
    EPIC,
    SANDBOX,
    SERVICE,
    build_app,
    client_entries,
    jwt_settings,
    report_sign_body,
    write_clients_file,
)
from tests.integration.security.servers import CountingServer, counting_server, free_port, serving
from tests.unit.security.minting import SigningClient, unsigned_token


@dataclasses.dataclass
class LiveService:
    base: str
    jwks_host: CountingServer
    epic: SigningClient  # Epic-style, its jku pointing at the local JWKS server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with counting_server(EPIC.jwks()) as jwks_host:
        jwks_url = f"{jwks_host.base_url}/jwks"
        clients_file = write_clients_file(tmp_path_factory.mktemp("clients"), client_entries(jwks_url))
        app = build_app(jwt_settings(clients_file))
        with serving(app, free_port()) as base:
            yield LiveService(base, jwks_host, dataclasses.replace(EPIC, jku=jwks_url))


def get(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(url, headers=headers or {}, timeout=10)


def test_no_header_alg_none_and_expired_are_bare_401s(live: LiveService) -> None:
    url = f"{live.base}/cds-services"
    tokens = [
        None,
        unsigned_token(EHR.claims(url), EHR.kid),
        EHR.sign(EHR.claims(url, now=time.time() - 900)),
    ]
    for token in tokens:
        response = get(url, {"Authorization": f"Bearer {token}"} if token else {})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_sandbox_style_token_is_accepted(live: LiveService) -> None:
    url = f"{live.base}/cds-services"
    iat = round(time.time() + 0.5)
    token = SANDBOX.sign({**SANDBOX.claims(url), "iat": iat, "exp": iat + 300})
    response = get(url, {"Authorization": f"Bearer {token}", "Origin": "http://127.0.0.1:8090"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_epic_style_rs384_with_jku_fetches_the_local_jwks_once(live: LiveService) -> None:
    url = f"{live.base}/cds-services"
    before = live.jwks_host.connections
    for _ in range(3):
        assert get(url, {"Authorization": f"Bearer {live.epic.token(url)}"}).status_code == 200
    assert live.jwks_host.connections - before <= 1


def test_unlisted_fhir_server_is_403_and_never_contacted(live: LiveService) -> None:
    url = f"{live.base}/cds-services/{SERVICE}"
    with counting_server({"resourceType": "Bundle"}) as unlisted_fhir:
        response = httpx.post(
            url,
            headers={"Authorization": f"Bearer {EHR.token(url)}"},
            json=report_sign_body(f"{unlisted_fhir.base_url}/fhir"),
            timeout=10,
        )
        time.sleep(0.2)  # anything the service might still do in the background
        assert response.status_code == 403
        assert unlisted_fhir.connections == 0


def test_cors_preflight_over_the_wire(live: LiveService) -> None:
    response = httpx.options(
        f"{live.base}/cds-services/{SERVICE}",
        headers={
            "Origin": "http://127.0.0.1:8090",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
