"""An app with authentication off and an in-memory audit store, driven through TestClient."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from cds_service.api.app import create_app
from cds_service.audit.store import MemoryAuditStore
from cds_service.settings import Settings

FHIR = "https://fhir.example.test/R4"
NOW = datetime.now(UTC)


def days_ago(days: int) -> str:
    return (NOW - timedelta(days=days)).isoformat(timespec="seconds")


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


PATIENT = {
    "resourceType": "Patient",
    "id": "pat-1",
    "gender": "female",
    "birthDate": "1961-03-02",
    "name": [{"family": "Testperson", "given": ["Ada"]}],
}
REPORT_TEXT = (
    "EXAM: XR LEFT KNEE 2 VIEWS\n"
    "FINDINGS: There is a 1.5 cm focus of soft tissue calcification in the subcutaneous fat "
    "anterior to the left patella. No fracture. Joint spaces preserved.\n"
    "IMPRESSION: Non-specific subcutaneous soft tissue calcification anterior to the left knee."
)
REPORT = {
    "resourceType": "DiagnosticReport",
    "id": "rep-1",
    "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "36573-5"}], "text": "XR Knee Left 2 Views"},
    "subject": {"reference": "Patient/pat-1"},
    "effectiveDateTime": days_ago(0),
    "presentedForm": [{"contentType": "text/plain", "data": base64.b64encode(REPORT_TEXT.encode()).decode()}],
}


def lab(obs_id: str, loinc: str, value: float, unit: str, days: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": days_ago(days),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


NORMAL_LABS = searchset(
    lab("ca", "17861-6", 9.4, "mg/dL", 10),
    lab("po4", "2777-1", 3.5, "mg/dL", 10),
    lab("cr", "2160-0", 0.9, "mg/dL", 10),
)


def report_sign_request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": "0d1a5b8e-8f0c-4f4e-9a77-5d1f0b3c2a10",
        "hook": "report-sign",
        "fhirServer": FHIR,
        "context": {
            "userId": "Practitioner/rad-1",
            "patientId": "pat-1",
            "reportId": "rep-1",
            "category": "RAD",
            "status": "final",
        },
        "prefetch": {
            "patient": copy.deepcopy(PATIENT),
            "report": copy.deepcopy(REPORT),
            "labs": copy.deepcopy(NORMAL_LABS),
            "conditions": searchset(),
            "orders": searchset(),
        },
    }
    body.update(changes)
    return body


@pytest.fixture
def settings() -> Settings:
    return Settings(auth="off", rate_limit_per_client=0)


@pytest.fixture
def audit() -> MemoryAuditStore:
    return MemoryAuditStore()


@pytest.fixture
def client(settings: Settings, audit: MemoryAuditStore) -> Iterator[TestClient]:
    with TestClient(create_app(settings, audit=audit), raise_server_exceptions=False) as test_client:
        yield test_client
