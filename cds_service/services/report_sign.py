"""The report-sign use case: a radiologist signs a report; answer with cards for its finding.

gather (prefetch, then FHIR) → evaluate (clinical, pure) → render cards → the invocation frame
guards, records and logs.
"""

from __future__ import annotations

from typing import Any

from cds_service.cards import render_cards
from cds_service.cdshooks.models import ReportSignContext, ServiceDefinition
from cds_service.cdshooks.validation import validate_context
from cds_service.clinical.evaluate import evaluate
from cds_service.fhir.gatherer import DataRequirement, report_sign_requirements
from cds_service.knowledge import Artifact
from cds_service.security.caller import Caller
from cds_service.services.gathering import gather_report
from cds_service.services.invocation import Invocation, UseCaseResult, admit, run_invocation
from cds_service.services.lifecycle import artifact_silenced
from cds_service.services.prefetch_templates import report_sign_templates
from cds_service.services.resources import ServiceResources
from cds_service.services.summaries import card_records, evaluation_summary, rule_firings
from cds_service.settings import Settings
from cds_service.tracing import span

SERVICE_ID = "calcification-report-sign"


def definition(settings: Settings, artifact: Artifact) -> ServiceDefinition:
    return ServiceDefinition(
        hook=settings.report_sign_hook,
        id=SERVICE_ID,
        title="Soft-tissue calcification on a lower-limb radiograph",
        description=(
            "When a radiology report of a lower-limb radiograph that mentions soft-tissue "
            "calcification is signed, checks the patient's calcium, phosphate, PTH and kidney "
            "function and suggests the labs, imaging or referral the finding calls for, as "
            f"draft orders. Knowledge artifact {artifact.id} {artifact.version}."
        ),
        usageRequirements=(
            "Send the signed DiagnosticReport (final, amended, corrected or appended) by prefetch "
            "or give fhirServer access with read scopes for Patient, DiagnosticReport, Observation, "
            "Condition, ServiceRequest and Binary."
        ),
        prefetch=report_sign_templates(artifact),
    )


def parse_context(raw: dict[str, Any]) -> ReportSignContext:
    return validate_context(ReportSignContext, raw)


def requirements(artifact: Artifact) -> list[DataRequirement]:
    return report_sign_requirements(report_sign_templates(artifact))


async def invoke(body: dict[str, Any], caller: Caller, resources: ServiceResources) -> dict[str, Any]:
    request, _ = admit(SERVICE_ID, body, resources.settings.report_sign_hook, parse_context)

    async def use_case(invocation: Invocation) -> UseCaseResult:
        data = await gather_report(invocation, requirements(resources.artifact), resources)
        request = invocation.request
        with span(resources.settings, "cds.evaluate", hook=request.hook, hook_instance=request.hookInstance):
            evaluation = evaluate(
                data, resources.artifact, resources.clock(), all_silent=artifact_silenced(resources)
            )
        cards = render_cards(evaluation, resources.artifact, resources.settings.topic_system)
        return UseCaseResult(
            outcome=evaluation.outcome,
            outcome_reason=evaluation.outcome_reason,
            cards=[card.card for card in cards],
            card_records=card_records(cards),
            rule_firings=rule_firings(evaluation),
            evaluations=[evaluation_summary(evaluation)],
        )

    return await run_invocation(
        service_id=SERVICE_ID, request=request, caller=caller, resources=resources, use_case=use_case
    )
