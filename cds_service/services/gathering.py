"""From an invocation to its PatientData: which FHIR server may be asked, with which token,
within which deadline; prefetch statistics go to the invocation record."""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.clinical.patient_data import PatientData
from cds_service.fhir.client import FhirAccess
from cds_service.fhir.deadline import Deadline
from cds_service.fhir.gatherer import DataRequirement, GatherStats, gather_report_sign
from cds_service.metrics import observe_gathering
from cds_service.services.invocation import Invocation
from cds_service.services.resources import ServiceResources
from cds_service.tracing import span


def fhir_access(invocation: Invocation, resources: ServiceResources) -> FhirAccess | None:
    """May we query the request's fhirServer (design.md decision 1)?

    With a token: yes (the gate already refused servers not listed for the client). Without a
    token: only a server on the calling client's list (open test servers, the sandbox).
    """
    request = invocation.request
    if request.fhirServer is None:
        return None
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    if token is None and not invocation.caller.lists_server(request.fhirServer):
        return None
    return FhirAccess(base_url=request.fhirServer, http=resources.http_client, access_token=token)


def account_for(invocation: Invocation, stats: GatherStats) -> None:
    """After any gathering, ended well or not: prefetch results to the record, calls to metrics."""
    observe_gathering(stats)
    invocation.prefetch.update(
        {key: f"{value.prefetch.value}/{value.fetch.value}" for key, value in stats.prefetch.items()}
    )


async def gather_report(
    invocation: Invocation, requirements: Sequence[DataRequirement], resources: ServiceResources
) -> PatientData:
    stats = GatherStats()
    deadline = Deadline(invocation.deadline_at)
    request = invocation.request
    try:
        with span(resources.settings, "cds.gather", hook=request.hook, hook_instance=request.hookInstance):
            gathered = await gather_report_sign(
                request, requirements, fhir_access(invocation, resources), deadline, resources.settings, stats
            )
    finally:
        account_for(invocation, stats)
    return gathered.data
