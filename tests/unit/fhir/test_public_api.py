"""The package's public API is deliberate: adding or removing a name is a reviewed change."""

from __future__ import annotations

import cds_service.fhir as fhir


def test_public_api_is_pinned() -> None:
    assert sorted(fhir.__all__) == [
        "DataRequirement",
        "Deadline",
        "DeadlineExceeded",
        "FetchResult",
        "FhirAccess",
        "FhirCall",
        "FhirClient",
        "FhirError",
        "GatherStats",
        "Gathered",
        "KeyData",
        "KeyStats",
        "REPORT_SIGN_NEEDS",
        "ReportDependents",
        "SearchResult",
        "gather_report_dependents",
        "gather_report_sign",
        "gather_requirements",
        "make_http_client",
        "report_sign_requirements",
    ]
    assert all(hasattr(fhir, name) for name in fhir.__all__)


def test_no_httpx_exception_is_part_of_the_api() -> None:
    exported = [getattr(fhir, name) for name in fhir.__all__]
    assert not any(isinstance(obj, type) and obj.__module__.startswith("httpx") for obj in exported)
