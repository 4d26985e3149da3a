"""Trusted clients, their keys, and the app built from them for the HTTP tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from cds_service.api.app import create_app
from cds_service.audit.store import MemoryAuditStore
from cds_service.settings import Settings
from tests.unit.security.minting import (
    SANDBOX_ISSUER,
    SANDBOX_JKU,
    SANDBOX_KID,
    SigningClient,
    ec_p384_key,
    rsa_key,
)

BASE = "http://testserver"
SERVICE = "calcification-report-sign"
EHR_FHIR = "https://fhir.ehr.example.org/r4"
SANDBOX_FHIR = "http://127.0.0.1:8092/fhir"
EPIC_JWKS = "https://epic.example.org/interconnect/api/epic/2019/Security/Open/PublicKeys/jwks"

EHR = SigningClient("https://ehr.example.org", ec_p384_key("ehr"), "ehr-1", "ES384")
SANDBOX = SigningClient(SANDBOX_ISSUER, ec_p384_key("sandbox"), SANDBOX_KID, "ES384", jku=SANDBOX_JKU)
EPIC = SigningClient("https://epic.example.org", rsa_key("epic"), "epic-1", "RS384", jku=EPIC_JWKS)
TENANTED = SigningClient("https://tenant.example.org", ec_p384_key("tenant"), "t-1", "ES384", tenant="hosp-a")


def client_entries(epic_jwks_url: str = EPIC_JWKS) -> list[dict[str, Any]]:
    """The clients file as an operator would write it (sandbox: test key inline, jku listed)."""
    return [
        {"issuer": EHR.issuer, "jwks": EHR.jwks(), "fhir_servers": [EHR_FHIR]},
        {
            "issuer": SANDBOX.issuer,
            "jwks": SANDBOX.jwks(),
            "jku_allowed": [SANDBOX_JKU],
            "fhir_servers": [SANDBOX_FHIR],
        },
        {
            "issuer": EPIC.issuer,
            "jwks_url": epic_jwks_url,
            "jku_allowed": [epic_jwks_url],
            "fhir_servers": ["https://fhir.epic.example.org/api/FHIR/R4/"],
        },
        {"issuer": TENANTED.issuer, "jwks": TENANTED.jwks(), "tenant": "hosp-a", "fhir_servers": [EHR_FHIR]},
    ]


def write_clients_file(directory: Path, entries: list[dict[str, Any]]) -> Path:
    path = directory / f"clients-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump({"clients": json.loads(json.dumps(entries))}))
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clients_file(tmp_path: Path) -> Path:
    return write_clients_file(tmp_path, client_entries())


def jwt_settings(clients_file: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"auth": "jwt", "clients_file": clients_file, "rate_limit_per_client": 0}
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app in process, lifespan included, through httpx's ASGI transport."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client


def build_app(settings: Settings) -> FastAPI:
    return create_app(settings, audit=MemoryAuditStore())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def report_sign_body(fhir_server: str | None = EHR_FHIR, *, with_fhir_token: bool = True) -> dict[str, Any]:
    """A valid report-sign request without prefetch but with a FHIR token: past the gate, the
    service would read the report from `fhirServer` — what the allowlist tests must not see."""
    body: dict[str, Any] = {
        "hook": "report-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/radiologist-1",
            "patientId": "patient-1",
            "reportId": "report-1",
            "category": "RAD",
            "status": "final",
        },
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if fhir_server is not None and with_fhir_token:
        body["fhirAuthorization"] = {
            "access_token": "fhir-access-token-for-tests",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
        }
    return body
