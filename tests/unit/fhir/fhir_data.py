"""Small synthetic FHIR resources and hook requests for the gatherer's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from cds_service.cdshooks.models import HookRequest

BASE = "https://ehr.example.org/fhir/R4"
TOKEN = "s3cr3t-access-token-0451"

TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "report": "DiagnosticReport/{{context.reportId}}",
    "labs": "Observation?patient={{context.patientId}}&code=http://loinc.org|17861-6&_sort=-date",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "orders": "ServiceRequest?patient={{context.patientId}}&status=active",
}

Json = dict[str, Any]


def patient() -> Json:
    return {"resourceType": "Patient", "id": "pat1"}


def report(*, results: tuple[str, ...] = (), form_urls: tuple[str, ...] = (), **extra: Any) -> Json:
    resource: Json = {"resourceType": "DiagnosticReport", "id": "rep1", "status": "final", **extra}
    if results:
        resource["result"] = [{"reference": reference} for reference in results]
    if form_urls:
        resource["presentedForm"] = [{"contentType": "text/plain", "url": url} for url in form_urls]
    return resource


def observation(identifier: str) -> Json:
    return {"resourceType": "Observation", "id": identifier, "status": "final"}


def condition(identifier: str) -> Json:
    return {"resourceType": "Condition", "id": identifier}


def service_request(identifier: str) -> Json:
    return {"resourceType": "ServiceRequest", "id": identifier}


def outcome(severity: str = "error") -> Json:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": "processing", "diagnostics": "could not fetch"}],
    }


def bundle(*resources: Json, next_url: str | None = None) -> Json:
    searchset: Json = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": resource, "search": {"mode": "match"}} for resource in resources],
    }
    if next_url is not None:
        searchset["link"] = [{"relation": "next", "url": next_url}]
    return searchset


def full_prefetch() -> Json:
    return {
        "patient": patient(),
        "report": report(),
        "labs": bundle(observation("ca1")),
        "conditions": bundle(condition("c1")),
        "orders": bundle(),
    }


def hook_request(prefetch: Mapping[str, Any] | None, *, token: bool = True) -> HookRequest:
    body: Json = {
        "hook": "report-sign",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": BASE,
        "context": {
            "userId": "Practitioner/doc1",
            "patientId": "pat1",
            "reportId": "rep1",
            "category": "RAD",
            "status": "final",
        },
    }
    if prefetch is not None:
        body["prefetch"] = dict(prefetch)
    if token:
        body["fhirAuthorization"] = {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read",
            "subject": "cds-service",
        }
    return HookRequest.model_validate(body)


def without(prefetch: Mapping[str, Any], *keys: str) -> Json:
    return {key: value for key, value in prefetch.items() if key not in keys}


def slowly(body: Json, seconds: float) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """A respx side effect answering ``body`` after ``seconds``, like a slow FHIR server."""

    async def respond(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(seconds)
        return httpx.Response(200, json=body)

    return respond
