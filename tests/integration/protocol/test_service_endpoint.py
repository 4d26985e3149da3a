"""The report-sign endpoint over HTTP: discovery, request validation, prefetch semantics,
FHIR behaviour and the deadline (checklist §2, §3, §4; design.md decisions 1, 3, 4)."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from typing import Any

import httpx
import pytest
import respx
from starlette.testclient import TestClient

from cds_service.audit.store import MemoryAuditStore
from tests.integration.protocol.conftest import (
    FHIR,
    NORMAL_LABS,
    PATIENT,
    REPORT,
    report_sign_request,
    searchset,
)

URL = "/cds-services/calcification-report-sign"


def fresh(**changes: Any) -> dict[str, Any]:
    return report_sign_request(hookInstance=str(uuid.uuid4()), **changes)


# ------------------------------------------------------------------ discovery (§2)


def test_discovery_lists_report_sign_with_2_0_prefetch(client: TestClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    (service,) = [s for s in response.json()["services"] if s["id"] == "calcification-report-sign"]
    assert service["hook"] == "report-sign"
    assert service["title"] and service["description"] and service["usageRequirements"]
    prefetch = service["prefetch"]
    assert prefetch["report"] == "DiagnosticReport/{{context.reportId}}"
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    labs = prefetch["labs"]
    for loinc in (
        "17861-6",
        "1995-0",
        "29265-6",
        "2777-1",
        "2731-8",
        "2160-0",
        "98979-8",
        "33914-3",
        "1751-7",
        "62292-8",
    ):
        assert f"http://loinc.org|{loinc}" in labs
    assert "_sort=-date" in labs and "_count=" in labs
    assert "clinical-status=active" in prefetch["conditions"]
    assert "status=active,draft" in prefetch["orders"]
    for template in prefetch.values():  # 2.0 tokens only: no FHIRPath, no repeated parameters
        assert "today()" not in template and "resolve()" not in template
        names = [p.split("=")[0] for p in template.partition("?")[2].split("&") if p]
        assert len(names) == len(set(names))


def test_hook_name_is_a_setting(audit: MemoryAuditStore) -> None:
    from cds_service.api.app import create_app
    from cds_service.settings import Settings

    app = create_app(Settings(auth="off", report_sign_hook="com.example.report-sign"), audit=audit)
    with TestClient(app) as client:
        service = client.get("/cds-services").json()["services"][0]
        assert service["hook"] == "com.example.report-sign"
        body = fresh(hook="com.example.report-sign")
        assert client.post(URL, json=body).status_code == 200
        assert client.post(URL, json=fresh()).status_code == 400


def test_double_slash_from_the_sandbox_is_tolerated(client: TestClient) -> None:
    assert client.get("http://testserver//cds-services").status_code == 200
    assert client.post("/cds-services//calcification-report-sign", json=fresh()).status_code == 200


# ------------------------------------------------------------------ a call with full prefetch


def test_full_prefetch_answers_cards_with_draft_orders(client: TestClient, audit: MemoryAuditStore) -> None:
    with respx.mock(assert_all_mocked=True) as fhir:
        response = client.post(URL, json=fresh())
        assert not fhir.calls, "complete prefetch must not query the FHIR server"
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["CalcFurtherImaging"]
    card = cards[0]
    assert card["selectionBehavior"] == "at-most-one"
    assert card["source"]["topic"]["system"] == "urn:calcification-cds:topic"
    resource = card["suggestions"][0]["actions"][0]["resource"]
    assert resource["resourceType"] == "ServiceRequest"
    assert (resource["status"], resource["intent"]) == ("draft", "proposal")
    assert resource["subject"] == {"reference": "Patient/pat-1"}
    assert audit.invocations[-1].outcome == "cards"


def test_repeated_hook_instance_gets_the_recorded_answer(client: TestClient) -> None:
    body = fresh()
    first = client.post(URL, json=body).json()
    again = client.post(URL, json=body).json()
    assert first == again and first["cards"]


# ------------------------------------------------------------------ request validation (§3.1)

BAD_REQUESTS = [
    pytest.param(lambda b: b.pop("hook"), "hook", id="§3.1 hook required"),
    pytest.param(lambda b: b.pop("hookInstance"), "hookInstance", id="§3.1 hookInstance required"),
    pytest.param(lambda b: b.pop("context"), "context", id="§3.1 context required"),
    pytest.param(lambda b: b.update(hook="patient-view"), "hook", id="§3.1 hook must match the service"),
    pytest.param(lambda b: b["context"].pop("reportId"), "context.reportId", id="§7.3 reportId required"),
    pytest.param(lambda b: b["context"].pop("patientId"), "context.patientId", id="§7.3 patientId required"),
    pytest.param(lambda b: b["context"].pop("userId"), "context.userId", id="§7.3 userId required"),
    pytest.param(lambda b: b["context"].pop("category"), "context.category", id="§7.3 category required"),
    pytest.param(lambda b: b["context"].pop("status"), "context.status", id="§7.3 status required"),
    pytest.param(lambda b: b["context"].update(userId="rad-1"), "context.userId", id="userId is Type/id"),
    pytest.param(lambda b: b.update(hookInstance=42), "hookInstance", id="wrong type: hookInstance"),
    pytest.param(lambda b: b.update(context=[]), "context", id="wrong type: context"),
    pytest.param(lambda b: b.update(prefetch="x"), "prefetch", id="wrong type: prefetch"),
    pytest.param(lambda b: b.update(fhirServer="ftp://x"), "fhirServer", id="fhirServer is http(s)"),
    pytest.param(
        lambda b: (
            b.pop("fhirServer"),
            b.update(
                fhirAuthorization={
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "user/*.read",
                    "subject": "cds",
                }
            ),
        ),
        "fhirServer",
        id="§3.5 fhirAuthorization needs fhirServer",
    ),
]


@pytest.mark.parametrize(("break_it", "where"), BAD_REQUESTS)
def test_bad_requests_get_a_specific_400(client: TestClient, break_it: Any, where: str) -> None:
    body = fresh()
    break_it(body)
    response = client.post(URL, json=body)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert where in outcome["issue"][0]["diagnostics"]


def test_unknown_fields_and_extension_are_tolerated(client: TestClient) -> None:
    body = fresh(extension={"com.epic.cdshooks.request.trigger": {"x": 1}}, somethingNew=True)
    body["context"]["extension"] = {"org.example.x": "y"}
    body["context"]["category"] = [{"coding": [{"system": "https://loinc.org", "code": "LP29684-5"}]}]
    body["context"]["procedure"] = {"coding": [{"system": "http://loinc.org", "code": "36573-5"}]}
    assert client.post(URL, json=body).status_code == 200


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        pytest.param(b"{not json", "application/json", 400, id="malformed JSON is 400"),
        pytest.param(b"[]", "application/json", 400, id="a JSON array is 400"),
        pytest.param(b"", "application/json", 400, id="an empty body is 400"),
        pytest.param(b"hook=report-sign", "application/x-www-form-urlencoded", 415, id="form body is 415"),
        pytest.param(b"{}", "text/plain", 415, id="text/plain is 415"),
        pytest.param(b"[" * 100 + b"]" * 100, "application/json", 400, id="nesting deeper than 64 is 400"),
    ],
)
def test_bodies_that_are_not_a_json_object(
    client: TestClient, content: bytes, content_type: str, status: int
) -> None:
    response = client.post(URL, content=content, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_oversized_body_is_413(audit: MemoryAuditStore) -> None:
    from cds_service.api.app import create_app
    from cds_service.settings import Settings

    with TestClient(create_app(Settings(auth="off", max_body_bytes=2048), audit=audit)) as client:
        response = client.post(URL, json=fresh())
    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unknown_service_is_404(client: TestClient) -> None:
    response = client.post("/cds-services/no-such-service", json=fresh())
    assert response.status_code == 404
    assert "no-such-service" in response.json()["issue"][0]["diagnostics"]


# ------------------------------------------------------------------ prefetch semantics (§3.4)


def without(*keys: str) -> dict[str, Any]:
    body = fresh()
    for key in keys:
        body["prefetch"].pop(key)
    return body


def test_null_prefetch_means_no_data_and_is_not_queried(client: TestClient, audit: MemoryAuditStore) -> None:
    body = fresh()
    body["prefetch"].update(labs=None, conditions=None, orders=None)
    with respx.mock(assert_all_mocked=True) as fhir:
        response = client.post(URL, json=body)
        assert not fhir.calls
    assert response.status_code == 200
    topics = {c["source"]["topic"]["code"] for c in response.json()["cards"]}
    assert "CalcMetabolicWorkup" in topics  # no labs → the core labs are missing
    assert audit.invocations[-1].prefetch["labs"].startswith("null")


def test_missing_keys_are_fetched_with_the_token(client: TestClient) -> None:
    body = without("labs", "patient")
    body["fhirAuthorization"] = {
        "access_token": "secret-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "cds",
    }
    with respx.mock(assert_all_mocked=True) as fhir:
        patient = fhir.get(f"{FHIR}/Patient/pat-1").respond(json=PATIENT)
        labs = fhir.get(url__startswith=f"{FHIR}/Observation").respond(json=NORMAL_LABS)
        response = client.post(URL, json=body)
    assert response.status_code == 200
    assert patient.called and labs.called
    assert patient.calls.last.request.headers["Authorization"] == "Bearer secret-token"
    assert patient.calls.last.request.headers["Accept"] == "application/fhir+json"
    assert [c["source"]["topic"]["code"] for c in response.json()["cards"]] == ["CalcFurtherImaging"]


def test_missing_keys_without_token_are_fetched_from_a_listed_server(client: TestClient) -> None:
    with respx.mock(assert_all_mocked=True) as fhir:
        fhir.get(f"{FHIR}/DiagnosticReport/rep-1").respond(json=REPORT)
        response = client.post(URL, json=without("report"))
    assert response.status_code == 200 and response.json()["cards"]


def test_required_report_missing_without_fhir_access_is_412(
    client: TestClient, audit: MemoryAuditStore
) -> None:
    body = without("report")
    body.pop("fhirServer")
    response = client.post(URL, json=body)
    assert response.status_code == 412
    assert "report" in response.json()["issue"][0]["diagnostics"]
    assert audit.invocations[-1].outcome == "precondition-failed"


def test_operation_outcome_prefetch_is_refetched(client: TestClient) -> None:
    body = fresh()
    body["prefetch"]["labs"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    with respx.mock(assert_all_mocked=True) as fhir:
        labs = fhir.get(url__startswith=f"{FHIR}/Observation").respond(json=NORMAL_LABS)
        response = client.post(URL, json=body)
    assert response.status_code == 200 and labs.called


def test_optional_data_failing_is_said_on_the_card(client: TestClient) -> None:
    with respx.mock(assert_all_mocked=True) as fhir:
        fhir.get(url__startswith=f"{FHIR}/Observation").respond(500)
        response = client.post(URL, json=without("labs"))
    assert response.status_code == 200
    details = " ".join(c.get("detail", "") for c in response.json()["cards"])
    assert "labs" in details and "500" in details


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ConnectError("refused"), id="FHIR server down"),
        pytest.param(httpx.ReadTimeout("slow"), id="FHIR timeout"),
    ],
)
def test_required_data_failing_at_the_fhir_server_is_412_never_500(
    client: TestClient, failure: Exception
) -> None:
    with respx.mock(assert_all_mocked=True) as fhir:
        fhir.get(f"{FHIR}/Patient/pat-1").mock(side_effect=failure)
        response = client.post(URL, json=without("patient"))
    assert response.status_code == 412


def test_invalid_json_from_the_fhir_server_is_handled(client: TestClient) -> None:
    with respx.mock(assert_all_mocked=True) as fhir:
        fhir.get(f"{FHIR}/Patient/pat-1").respond(
            200, content=b"<html>", headers={"Content-Type": "text/html"}
        )
        response = client.post(URL, json=without("patient"))
    assert response.status_code == 412


# ------------------------------------------------------------------ the deadline (§4, decision 11)


def test_deadline_answers_no_cards_in_time(audit: MemoryAuditStore) -> None:
    from cds_service.api.app import create_app
    from cds_service.settings import Settings

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=NORMAL_LABS)

    app = create_app(Settings(auth="off", deadline_ms=300, fhir_timeout_ms=5000), audit=audit)
    with TestClient(app) as client, respx.mock(assert_all_mocked=True, assert_all_called=False) as fhir:
        fhir.get(url__startswith=f"{FHIR}/Observation").mock(side_effect=slow)
        started = time.monotonic()
        response = client.post(URL, json=without("labs"))
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json() == {"cards": []}
    assert elapsed < 0.3 + 1.0  # wide margin: the answer comes at the deadline, not after 5 s
    assert audit.invocations[-1].outcome == "deadline"


def test_concurrent_fhir_calls_fit_the_latency_target(client: TestClient) -> None:
    async def latent(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        path = request.url.path
        if path.endswith("/Patient/pat-1"):
            return httpx.Response(200, json=PATIENT)
        if path.endswith("/DiagnosticReport/rep-1"):
            return httpx.Response(200, json=REPORT)
        if path.endswith("/Observation"):
            return httpx.Response(200, json=NORMAL_LABS)
        return httpx.Response(200, json=searchset())

    body = fresh()
    body.pop("prefetch")
    with respx.mock(assert_all_mocked=True) as fhir:
        fhir.get(url__startswith=FHIR).mock(side_effect=latent)
        started = time.monotonic()
        response = client.post(URL, json=body)
        elapsed = time.monotonic() - started
        assert len(fhir.calls) == 5
    assert response.status_code == 200 and response.json()["cards"]
    # one after another they would take 1.0 s; concurrently about 0.2 s (wide margin for a busy CI)
    assert elapsed < 0.8, f"five 200 ms FHIR calls took {elapsed:.2f} s: they must run concurrently"


def test_access_token_never_reaches_the_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    body = without("patient")
    body["fhirAuthorization"] = {
        "access_token": "very-secret-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "cds",
    }
    with respx.mock(assert_all_mocked=True) as fhir:
        fhir.get(f"{FHIR}/Patient/pat-1").respond(500)
        client.post(URL, json=body)
    assert "very-secret-token" not in caplog.text
    assert copy.deepcopy(REPORT)["presentedForm"][0]["data"] not in caplog.text


def test_rejected_calls_are_counted_and_leave_the_hook_instance_free(client: TestClient) -> None:
    body = fresh()
    del body["context"]["reportId"]
    assert client.post(URL, json=body).status_code == 400
    metrics = client.get("/metrics").text
    assert 'cds_invocations_total{outcome="rejected",service="calcification-report-sign"}' in metrics
    body["context"]["reportId"] = "rep-1"  # the EHR corrects the call and resends it
    assert client.post(URL, json=body).json()["cards"]
