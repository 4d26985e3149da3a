"""Prefetch templates and what the client sent for each key (checklist §3.3, §3.4)."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.cdshooks.prefetch import (
    PrefetchStatus,
    classify_prefetch,
    render_template,
    repeated_parameters,
)

CONTEXT: dict[str, Any] = {
    "userId": "Practitioner/doc-1",
    "patientId": "pat1",
    "reportId": "rep.7",
    "status": "final",
    "count": 5,
    "urgent": True,
    "category": [{"coding": [{"code": "RAD"}]}],
    "blank": " ",
}


# ---------------------------------------------------------------- §3.3 rendering


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("Patient/{{context.patientId}}", "Patient/pat1"),
        ("DiagnosticReport/{{ context.reportId }}", "DiagnosticReport/rep.7"),
        (
            "Observation?patient={{context.patientId}}&_count={{context.count}}",
            "Observation?patient=pat1&_count=5",
        ),
        ("Flag?active={{context.urgent}}", "Flag?active=true"),
        ("{{context.userId}}", "Practitioner/doc-1"),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/doc-1"),
        ("Patient?_id=pat1", "Patient?_id=pat1"),
    ],
    ids=[
        "context-token",
        "spaces-inside-braces",
        "several-tokens-and-a-number",
        "boolean-as-fhir-literal",
        "userId-as-a-read",
        "user-token-of-matching-type",
        "no-tokens",
    ],
)
def test_tokens_are_rendered(template: str, rendered: str) -> None:
    assert render_template(template, CONTEXT) == rendered


@pytest.mark.parametrize(
    "template",
    [
        "Patient/{{context.encounterId}}",
        "Medication/{{context.medication.id}}",
        "DiagnosticReport?category={{context.category}}",
        "Patient/{{context.blank}}",
        "PractitionerRole/{{userPractitionerRoleId}}",
        "Patient/{{userPatientId}}",
        "Observation?date=gt{{today() - 90 days}}",
        "Patient/{{patientId}}",
        "Patient/{{context.patientId",
    ],
    ids=[
        "absent-field",
        "nested-field-is-not-a-2.0-token",
        "non-primitive-field",
        "blank-field",
        "user-token-of-other-type",
        "user-patient-for-a-practitioner",
        "3.0-fhirpath-token",
        "unknown-token",
        "unterminated-token",
    ],
)
def test_template_with_an_unresolvable_token_is_unusable(template: str) -> None:
    assert render_template(template, CONTEXT) is None


def test_token_values_cannot_change_the_query() -> None:
    rendered = render_template("Observation?patient={{context.patientId}}", {"patientId": "p1&code=x y"})
    assert rendered == "Observation?patient=p1%26code%3Dx%20y"


def test_repeated_search_parameters_are_found() -> None:
    """The sandbox merges them into an OR (sandbox-compat §8.13)."""
    template = "Observation?patient={{context.patientId}}&date=ge2026-01-01&date=lt2026-06-01"
    assert repeated_parameters(template) == ["date"]
    assert repeated_parameters("Observation?patient=1&code=a,b") == []


# ---------------------------------------------------------------- §3.4 classification


def outcome(severity: str = "error") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": "processing"}]}


def searchset(*resources: dict[str, Any], mode: str = "match") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": mode}} for r in resources],
    }


PATIENT = {"resourceType": "Patient", "id": "pat1"}


@pytest.mark.parametrize(
    ("prefetch", "expected_type", "status"),
    [
        (None, "Patient", PrefetchStatus.MISSING),
        ({"other": PATIENT}, "Patient", PrefetchStatus.MISSING),
        ({"key": None}, "Patient", PrefetchStatus.NULL),
        ({"key": None}, "Bundle", PrefetchStatus.NULL),
        ({"key": PATIENT}, "Patient", PrefetchStatus.PRESENT),
        ({"key": searchset()}, "Bundle", PrefetchStatus.PRESENT),
        ({"key": searchset(outcome("warning"), mode="outcome")}, "Bundle", PrefetchStatus.PRESENT),
        ({"key": outcome()}, "Patient", PrefetchStatus.ERROR),
        ({"key": outcome()}, "Bundle", PrefetchStatus.ERROR),
        ({"key": searchset(outcome("error"), mode="outcome")}, "Bundle", PrefetchStatus.ERROR),
        ({"key": searchset(outcome("fatal"))}, "Bundle", PrefetchStatus.ERROR),
        ({"key": PATIENT}, "DiagnosticReport", PrefetchStatus.ERROR),
        ({"key": searchset(PATIENT)}, "Patient", PrefetchStatus.ERROR),
        ({"key": PATIENT}, "Bundle", PrefetchStatus.ERROR),
        ({"key": "123"}, "Patient", PrefetchStatus.ERROR),
        ({"key": {"id": "x"}}, "Patient", PrefetchStatus.ERROR),
    ],
    ids=[
        "no-prefetch-at-all",
        "key-absent-means-fetch-it",
        "null-read-means-no-data",
        "null-search-means-no-data",
        "resource-of-the-type-asked",
        "empty-searchset-means-no-matches",
        "warning-outcome-entry-is-not-an-error",
        "operation-outcome-for-a-read",
        "operation-outcome-for-a-search",
        "bundle-holding-an-error-outcome",
        "bundle-holding-a-fatal-outcome",
        "resource-of-another-type",
        "bundle-for-a-read",
        "resource-for-a-search",
        "string-value-like-the-spec-example",
        "no-resourceType",
    ],
)
def test_prefetch_values_are_classified(
    prefetch: dict[str, Any] | None, expected_type: str, status: PrefetchStatus
) -> None:
    value = classify_prefetch(prefetch, "key", expected_type)

    assert value.status is status
    assert value.needs_fetch is (status in (PrefetchStatus.MISSING, PrefetchStatus.ERROR))
    assert (value.resource is not None) is (status is PrefetchStatus.PRESENT)
    assert (value.problem is not None) is (status is PrefetchStatus.ERROR)


def test_error_says_what_was_wrong() -> None:
    assert (
        classify_prefetch({"key": outcome()}, "key", "Patient").problem
        == "prefetch returned an OperationOutcome"
    )
    assert (
        classify_prefetch({"key": PATIENT}, "key", "DiagnosticReport").problem
        == "prefetch returned a Patient where DiagnosticReport was expected"
    )
