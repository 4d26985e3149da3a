"""Chart-open reading the FHIR server itself (respx at the HTTP level): the reports' second wave
runs concurrently per report, the whole call keeps one deadline, a token is sent when given, and
reports that cannot be had at all are a 412."""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from collections.abc import Callable
from typing import Any

import httpx
import respx

from tests.integration.patient_view.conftest import ChartOpen, report_of, scenario, topic

FHIR = "https://fhir.example.test/R4"
REPORT_TEXT = "IMPRESSION: Non-specific soft tissue calcification in the subcutaneous fat of the {side} shin."


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def binary(text: str) -> dict[str, Any]:
    return {
        "resourceType": "Binary",
        "contentType": "text/plain",
        "data": base64.b64encode(text.encode()).decode(),
    }


def url_only_reports(body: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Copies of the scenario's report whose text is only a Binary on the FHIR server."""
    template = body["prefetch"]["reports"]["entry"][0]["resource"]
    reports = []
    for index in range(count):
        report = copy.deepcopy(template)
        report["id"] = f"url-report-{index}"
        report.pop("conclusion", None)
        report["code"] = {"text": "XR Tibia and Fibula"}
        report["presentedForm"] = [{"contentType": "text/plain", "url": f"Binary/text-{index}"}]
        reports.append(report)
    return reports


def slow(payload: dict[str, Any], seconds: float) -> Callable[[httpx.Request], Any]:
    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(seconds)
        return httpx.Response(200, json=payload)

    return answer


def test_every_reports_binary_is_fetched_at_once(chart: ChartOpen) -> None:
    """Three 300 ms Binaries, one per report, finish well before 900 ms (decision 11)."""
    body = scenario("patient-view-overridden").request() | {"fhirServer": FHIR}
    reports = url_only_reports(body, 3)
    body["prefetch"]["reports"] = searchset(*reports)
    with respx.mock(assert_all_mocked=True) as fhir:
        for index, side in enumerate(("left", "right", "left")):
            text = REPORT_TEXT.format(side=side)
            fhir.get(f"{FHIR}/Binary/text-{index}").mock(side_effect=slow(binary(text), 0.3))
        started = time.monotonic()
        cards = chart.cards(body)
        elapsed = time.monotonic() - started
    assert elapsed < 0.75, f"the second wave ran one report after another ({elapsed:.2f} s)"
    assert {report_of(c) for c in cards} == {"url-report-0", "url-report-1", "url-report-2"}
    assert {topic(c) for c in cards} == {"CalcFurtherImaging"}


def test_a_reports_result_observations_are_read_in_the_second_wave(chart: ChartOpen) -> None:
    body = scenario("patient-view-overridden").request() | {"fhirServer": FHIR}
    (report,) = url_only_reports(body, 1)
    report.pop("presentedForm")
    report["result"] = [{"reference": "Observation/finding-1"}]
    finding = {
        "resourceType": "Observation",
        "id": "finding-1",
        "status": "final",
        "code": {"text": "Finding"},
        "valueString": "Non-specific soft tissue calcification in the subcutaneous fat of the left shin.",
    }
    body["prefetch"]["reports"] = searchset(report)
    with respx.mock(assert_all_mocked=True) as fhir:
        read = fhir.get(f"{FHIR}/Observation/finding-1").respond(json=finding)
        cards = chart.cards(body)
    assert read.called
    assert [topic(c) for c in cards] == ["CalcFurtherImaging"]


def test_the_whole_call_keeps_one_deadline(make_chart_open: Callable[..., ChartOpen]) -> None:
    chart = make_chart_open(deadline_ms=300)
    body = scenario("patient-view-overridden").request() | {"fhirServer": FHIR}
    body["prefetch"].pop("reports")
    # respx records a call once it is answered: the cancelled one never is
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as fhir:
        fhir.get(url__startswith=f"{FHIR}/DiagnosticReport").mock(side_effect=slow(searchset(), 2.0))
        started = time.monotonic()
        response = chart.open(body)
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json() == {"cards": []}
    assert elapsed < 1.5
    assert chart.last.outcome == "deadline"
    assert chart.last.prefetch["reports"] == "missing/unfinished"


def test_missing_keys_are_fetched_with_the_token(chart: ChartOpen) -> None:
    loaded = scenario("patient-view-overridden")
    body = loaded.request() | {"fhirServer": FHIR}
    reports = body["prefetch"].pop("reports")
    body["fhirAuthorization"] = {
        "access_token": "pv-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "cds",
    }
    with respx.mock(assert_all_mocked=True) as fhir:
        search = fhir.get(url__startswith=f"{FHIR}/DiagnosticReport").respond(json=reports)
        cards = chart.cards(body)
    request = search.calls.last.request
    assert request.headers["Authorization"] == "Bearer pv-token"
    assert request.url.params["patient"] == loaded.patient_id and request.url.params["_sort"] == "-date"
    assert [topic(c) for c in cards] == ["CalcFurtherImaging"] or [topic(c) for c in cards] == [
        "CalcRedFlags"
    ]
    assert chart.last.prefetch["reports"] == "missing/ok"


def test_reports_that_cannot_be_had_are_412(chart: ChartOpen) -> None:
    body = scenario("patient-view-overridden").request()
    body["prefetch"].pop("reports")
    body.pop("fhirServer")
    response = chart.open(body)
    assert response.status_code == 412
    assert "radiology reports" in response.json()["issue"][0]["diagnostics"]
    assert chart.last.outcome == "precondition-failed"


def test_no_reports_at_all_is_no_cards_not_an_error(chart: ChartOpen) -> None:
    body = scenario("patient-view-overridden").request()
    body["prefetch"]["reports"] = searchset()
    assert chart.cards(body) == []
    assert chart.last.outcome == "no-finding"
