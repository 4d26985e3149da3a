"""Data gathering over FHIR R4: the async client and the gatherer that fills ``PatientData``.

The public API is what this module exports; httpx never shows through it.
"""

from cds_service.fhir.client import FhirAccess, FhirCall, FhirClient, SearchResult, make_http_client
from cds_service.fhir.deadline import Deadline, DeadlineExceeded
from cds_service.fhir.errors import FhirError
from cds_service.fhir.gatherer import (
    REPORT_SIGN_NEEDS,
    DataRequirement,
    FetchResult,
    Gathered,
    GatherStats,
    KeyData,
    KeyStats,
    ReportDependents,
    gather_report_dependents,
    gather_report_sign,
    gather_requirements,
    report_sign_requirements,
)

__all__ = [
    "REPORT_SIGN_NEEDS",
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
    "ReportDependents",
    "SearchResult",
    "gather_report_dependents",
    "gather_report_sign",
    "gather_requirements",
    "make_http_client",
    "report_sign_requirements",
]
