"""What the data gathering hands to the clinical evaluation: FHIR R4 JSON, as received.

The gatherer (``cds_service.fhir``) fills it from prefetch first and the FHIR server for the
rest; it records in ``gaps`` everything it could not have, so the cards can say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class FetchedAttachment:
    """The body of a ``presentedForm`` that was a ``url`` (a Binary), fetched by the gatherer."""

    content_type: str
    data: bytes


@dataclass(frozen=True)
class DataGap:
    """A piece of data the service wanted and could not have, and why (shown on the card)."""

    what: str  # "labs", "conditions", "orders", "report results", "presentedForm <url>"
    reason: str  # "FHIR server timed out", "prefetch returned an OperationOutcome", ...


@dataclass(frozen=True)
class PatientData:
    report: Resource  # the DiagnosticReport (required)
    patient: Resource | None  # the Patient (required by the use case; None only in unit tests)
    observations: Sequence[Resource] = ()  # lab Observations (any LOINC of terminology.md)
    conditions: Sequence[Resource] = ()
    service_requests: Sequence[Resource] = ()  # open orders
    report_results: Sequence[Resource] = ()  # Observations referenced by report.result
    attachments: Mapping[str, FetchedAttachment] = field(default_factory=dict)  # by url
    gaps: Sequence[DataGap] = ()
