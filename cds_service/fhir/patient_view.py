"""Filling the chart-open (``patient-view``) snapshots: the patient's data once, then what each
chosen report points at.

1. ``gather_requirements``: the patient (required), the radiology reports search, labs,
   conditions and open orders, all at once, prefetch first and FHIR for the rest.
2. The caller chooses the reports worth reading (status, date window, newest first); for each
   of them ``gather_report_dependents`` fetches its result Observations and URL-only
   presentedForms, all reports concurrently.

Both waves run inside the invocation deadline. A reports search that cannot be had at all is a
``PreconditionFailed`` (412): without reports there is nothing to evaluate (design.md
decisions 1 and 3). One ``PatientData`` per chosen report comes back, sharing the patient's
labs, conditions and orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cds_service.cdshooks.models import HookRequest
from cds_service.clinical.patient_data import DataGap, PatientData
from cds_service.errors import PreconditionFailed
from cds_service.fhir.client import FhirAccess, FhirClient
from cds_service.fhir.deadline import Deadline
from cds_service.fhir.gatherer import (
    DataRequirement,
    GatherStats,
    KeyData,
    ReportDependents,
    gather_report_dependents,
    gather_requirements,
    requirements_from,
)
from cds_service.settings import Settings

__all__ = [
    "PATIENT_VIEW_NEEDS",
    "ChartData",
    "ReportChooser",
    "gather_patient_view",
    "patient_view_requirements",
]

Resource = Mapping[str, Any]
ReportChooser = Callable[[Sequence[Resource]], Sequence[Resource]]

REPORTS = "reports"

# key → (resource type, required, name): the data chart-open evaluates.
PATIENT_VIEW_NEEDS: Mapping[str, tuple[str, bool, str]] = {
    "patient": ("Patient", True, "patient"),
    REPORTS: ("Bundle", False, "radiology reports"),
    "labs": ("Bundle", False, "labs"),
    "conditions": ("Bundle", False, "conditions"),
    "orders": ("Bundle", False, "orders"),
}
SHARED_KEYS = ("labs", "conditions", "orders")


@dataclass(frozen=True)
class ChartData:
    """What chart-open evaluates: one snapshot per chosen report, newest first."""

    patient: Resource
    listed_reports: int  # how many reports the search (or prefetch) held
    reports: tuple[PatientData, ...]


def patient_view_requirements(templates: Mapping[str, str]) -> list[DataRequirement]:
    """The requirements of chart-open from its discovery prefetch templates (key → template)."""
    return requirements_from(PATIENT_VIEW_NEEDS, templates)


async def gather_patient_view(
    request: HookRequest,
    requirements: Sequence[DataRequirement],
    access: FhirAccess | None,
    deadline: Deadline,
    settings: Settings,
    choose: ReportChooser,
    stats: GatherStats | None = None,
) -> ChartData:
    """Everything chart-open evaluates; raises ``PreconditionFailed`` or ``DeadlineExceeded``."""
    if not {"patient", REPORTS} <= {requirement.key for requirement in requirements}:
        raise ValueError("patient-view needs the 'patient' and 'reports' requirements")
    stats = GatherStats() if stats is None else stats
    client = None if access is None else FhirClient(access, deadline, settings, stats.fhir_calls)
    async with deadline.enforced():
        found = await gather_requirements(request, requirements, client, stats)
        listed = _listed_reports(found[REPORTS])
        chosen = tuple(choose(listed))
        labs = _resources(found, "labs")
        dependents = await _each_concurrently(
            [gather_report_dependents(report, client, labs) for report in chosen]
        )
    shared_gaps = tuple(gap for key in SHARED_KEYS if key in found and (gap := found[key].gap) is not None)
    return ChartData(
        patient=found["patient"].resources[0],
        listed_reports=len(listed),
        reports=tuple(
            _snapshot(report, found, extra, shared_gaps)
            for report, extra in zip(chosen, dependents, strict=True)
        ),
    )


def _listed_reports(reports: KeyData) -> tuple[Resource, ...]:
    """The reports in hand; none at all because they could not be had is a 412."""
    if reports.gap is not None and not reports.resources:
        raise PreconditionFailed(
            f"the patient's radiology reports (prefetch key '{REPORTS}') cannot be had: {reports.gap.reason}",
            expression=f"prefetch.{REPORTS}",
        )
    return tuple(r for r in reports.resources if r.get("resourceType") == "DiagnosticReport")


def _snapshot(
    report: Resource,
    found: Mapping[str, KeyData],
    dependents: ReportDependents,
    shared_gaps: tuple[DataGap, ...],
) -> PatientData:
    return PatientData(
        report=report,
        patient=found["patient"].resources[0],
        observations=_resources(found, "labs"),
        conditions=_resources(found, "conditions"),
        service_requests=_resources(found, "orders"),
        report_results=dependents.results,
        attachments=dependents.attachments,
        gaps=(*shared_gaps, *dependents.gaps),
    )


def _resources(found: Mapping[str, KeyData], key: str) -> tuple[Resource, ...]:
    return found[key].resources if key in found else ()


async def _each_concurrently(
    work: Sequence[Coroutine[Any, Any, ReportDependents]],
) -> list[ReportDependents]:
    """Every report's dependents at once; the first failure (the deadline) is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in work]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]
