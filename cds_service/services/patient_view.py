"""The patient-view use case: a clinician opens the chart; show only the work-up still open.

gather (prefetch, then FHIR: the patient's recent radiology reports, labs, conditions, orders)
→ choose the recent final reports → evaluate each with the report-sign engine → keep those that
mention the finding, newest first → review each card for chart-open (design.md decision 8) →
render, naming the report each card comes from → the invocation frame guards, records and logs.

Chart-open shows only open work: a suggestion whose test resulted after the report (§6.37) or is
already ordered is withheld; a card answered by feedback for the same report within
``CDS_SUPPRESS_DAYS`` is withheld; a card left with no open suggestion is withheld (unlike
report-sign's §6.13, for every rule). Each withholding is recorded in the audit with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cds_service.audit.store import AuditUnavailable
from cds_service.cards import RenderedCard, render_cards
from cds_service.cards.escape import escape_text
from cds_service.cards.summary import LIMIT as SUMMARY_LIMIT
from cds_service.cdshooks.models import PatientViewContext, ServiceDefinition
from cds_service.cdshooks.validation import validate_context
from cds_service.clinical.evaluate import evaluate
from cds_service.clinical.evaluation import Evaluation, RuleOutcome, WithheldSuggestion
from cds_service.clinical.patient_data import PatientData
from cds_service.clinical.report.text import codings
from cds_service.clinical.rules import recommend_first
from cds_service.clinical.time import report_date
from cds_service.fhir.deadline import Deadline
from cds_service.fhir.gatherer import DataRequirement, GatherStats
from cds_service.fhir.patient_view import ChartData, gather_patient_view, patient_view_requirements
from cds_service.knowledge import Artifact
from cds_service.knowledge.terminology import Terminology
from cds_service.security.caller import Caller
from cds_service.services.gathering import account_for, fhir_access
from cds_service.services.invocation import Invocation, UseCaseResult, admit, run_invocation
from cds_service.services.lifecycle import artifact_silenced
from cds_service.services.prefetch_templates import patient_templates
from cds_service.services.resources import ServiceResources
from cds_service.services.summaries import card_records, evaluation_summary, rule_firings
from cds_service.settings import Settings

SERVICE_ID = "calcification-patient-view"
HOOK = "patient-view"
RADIOLOGY = "http://terminology.hl7.org/CodeSystem/v2-0074|RAD"
REPORTS_PAGE_SIZE = 20  # reports listed per search page; also the most chart-open reads per call

log = logging.getLogger("cds_service.patient_view")

# ---------------------------------------------------------------- discovery and request


def patient_view_templates(artifact: Artifact) -> dict[str, str]:
    """2.0 tokens only and no date filter (2.0 has no today()): the window is applied in code."""
    templates = patient_templates(artifact)
    reports = (
        f"DiagnosticReport?patient={{{{context.patientId}}}}&category={RADIOLOGY}"
        f"&_sort=-date&_count={REPORTS_PAGE_SIZE}"
    )
    return {"patient": templates.pop("patient"), "reports": reports, **templates}


def definition(settings: Settings, artifact: Artifact) -> ServiceDefinition:
    return ServiceDefinition(
        hook=HOOK,
        id=SERVICE_ID,
        title="Open work-up for soft-tissue calcification on a lower-limb radiograph",
        description=(
            "When a patient's chart is opened, reads the final lower-limb radiograph reports of the "
            f"last {settings.patient_view_window_days} days that mention soft-tissue calcification "
            f"(the newest {settings.patient_view_max_reports}) and shows only the work-up still open: "
            "labs, imaging or referral not yet resulted, ordered or answered. Knowledge artifact "
            f"{artifact.id} {artifact.version}."
        ),
        usageRequirements=(
            "Prefetch the templates, or give fhirServer access with read scopes for Patient, "
            "DiagnosticReport, Observation, Condition, ServiceRequest and Binary."
        ),
        prefetch=patient_view_templates(artifact),
    )


def parse_context(raw: dict[str, Any]) -> PatientViewContext:
    return validate_context(PatientViewContext, raw)


def requirements(artifact: Artifact) -> list[DataRequirement]:
    return patient_view_requirements(patient_view_templates(artifact))


async def invoke(body: dict[str, Any], caller: Caller, resources: ServiceResources) -> dict[str, Any]:
    request, context = admit(SERVICE_ID, body, HOOK, parse_context)

    async def use_case(invocation: Invocation) -> UseCaseResult:
        return await chart_open(invocation, context, resources)

    return await run_invocation(
        service_id=SERVICE_ID, request=request, caller=caller, resources=resources, use_case=use_case
    )


# ---------------------------------------------------------------- the use case


@dataclass(frozen=True)
class ReviewedReport:
    """One report's evaluation after the chart-open review, and what the review withheld."""

    data: PatientData
    evaluation: Evaluation
    suppressions: tuple[dict[str, Any], ...] = ()


async def chart_open(
    invocation: Invocation, context: PatientViewContext, resources: ServiceResources
) -> UseCaseResult:
    settings, artifact, now = resources.settings, resources.artifact, resources.clock()
    chart = await gather_chart(invocation, context, resources, now)
    silenced = artifact_silenced(resources)
    evaluated = [(data, evaluate(data, artifact, now, all_silent=silenced)) for data in chart.reports]
    with_finding = [(data, e) for data, e in evaluated if e.scope.evaluated and e.reading.finding_counts]
    limit = settings.patient_view_max_reports
    shown, beyond = with_finding[:limit], with_finding[limit:]
    answered = await answered_topics(resources, [e.report_id for _, e in shown], now)
    reviewed = [
        review_report(data, e, answered, artifact.terminology, settings.suppress_days) for data, e in shown
    ]
    cards = [
        name_the_report(card, r.evaluation)
        for r in reviewed
        for card in render_cards(r.evaluation, artifact, settings.topic_system)
    ]
    outcome, reason = chart_outcome(chart, [e for _, e in evaluated], reviewed, settings)
    return UseCaseResult(
        outcome=outcome,
        outcome_reason=reason,
        cards=[card.card for card in cards],
        card_records=card_records(cards),
        rule_firings=[firing for r in reviewed for firing in rule_firings(r.evaluation)],
        evaluations=_summaries(evaluated, reviewed),
        suppressions=[
            *(s for r in reviewed for s in r.suppressions),
            *(_beyond_the_newest(e, settings) for _, e in beyond),
        ],
    )


async def gather_chart(
    invocation: Invocation, context: PatientViewContext, resources: ServiceResources, now: datetime
) -> ChartData:
    stats = GatherStats()
    settings, artifact = resources.settings, resources.artifact
    statuses = frozenset(artifact.lexicons.scope.evaluated_statuses)

    def choose(reports: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return recent_reports(
            reports,
            patient_id=context.patientId,
            now=now,
            window_days=settings.patient_view_window_days,
            statuses=statuses,
        )

    try:
        return await gather_patient_view(
            invocation.request,
            requirements(artifact),
            fhir_access(invocation, resources),
            Deadline(invocation.deadline_at),
            settings,
            choose,
            stats,
        )
    finally:
        account_for(invocation, stats)


async def answered_topics(
    resources: ServiceResources, report_ids: Sequence[str], now: datetime
) -> set[tuple[str, str]]:
    """(report, topic) pairs clinicians answered within CDS_SUPPRESS_DAYS (decision 8)."""
    if not report_ids:
        return set()
    since = now - timedelta(days=resources.settings.suppress_days)
    try:
        return await resources.audit.answered_topics(report_ids, since)
    except AuditUnavailable as failure:  # recording fails too, and then no card leaves
        log.warning("answered topics unavailable: %s", failure)
        return set()


# ---------------------------------------------------------------- choosing the reports


def recent_reports(
    reports: Iterable[Mapping[str, Any]],
    *,
    patient_id: str,
    now: datetime,
    window_days: int,
    statuses: frozenset[str],
) -> list[Mapping[str, Any]]:
    """The patient's reports worth reading: an evaluated status (§1, §6.22), dated within the
    window, newest first, each once; prefetch may hold more than the search asked for."""
    since = now - timedelta(days=window_days)
    dated: dict[str, tuple[datetime, Mapping[str, Any]]] = {}
    for report in reports:
        when = report_date(report)
        if when is None or when < since or str(report.get("status")) not in statuses:
            continue
        if not _about_patient(report, patient_id):
            continue
        dated.setdefault(str(report.get("id", len(dated))), (when, report))
    newest_first = sorted(dated.values(), key=lambda pair: pair[0], reverse=True)
    return [report for _, report in newest_first[:REPORTS_PAGE_SIZE]]


def _about_patient(report: Mapping[str, Any], patient_id: str) -> bool:
    subject = report.get("subject")
    reference = subject.get("reference") if isinstance(subject, Mapping) else None
    if not isinstance(reference, str):
        return True  # no subject to contradict the search
    return reference.split("/_history/")[0].endswith(f"Patient/{patient_id}")


# ---------------------------------------------------------------- the chart-open review

RESULTED_STATUSES = frozenset({"preliminary", "final", "amended", "corrected"})
# The suggested test an analyte's result answers (§6.36: any calcium answers calcium, eGFR the
# renal core lab).
TEST_OF_ANALYTE = {
    "calcium-total": "calcium",
    "calcium-ionized": "calcium",
    "calcium-corrected": "calcium",
    "egfr": "creatinine",
}


def review_report(
    data: PatientData,
    evaluation: Evaluation,
    answered: set[tuple[str, str]],
    terminology: Terminology,
    suppress_days: int,
) -> ReviewedReport:
    resulted = results_after(data.observations, evaluation.report_date, terminology)
    rules, suppressions = [], []
    for rule in evaluation.rules:
        was_answered = (evaluation.report_id, rule.rule_id) in answered
        reviewed = review_rule(rule, resulted, was_answered, suppress_days)
        rules.append(reviewed)
        suppressions.extend(_suppressions(evaluation.report_id, reviewed))
    return ReviewedReport(data, replace(evaluation, rules=tuple(rules)), tuple(suppressions))


def results_after(
    observations: Iterable[Mapping[str, Any]], reported: datetime | None, terminology: Terminology
) -> dict[str, str]:
    """Suggested test → the newest result after the report that answers it (§6.37)."""
    resulted: dict[str, tuple[datetime, str]] = {}
    if reported is None:
        return {}
    for observation in observations:
        when = report_date(observation)  # effectiveDateTime, else the period's start, else issued
        analyte = _analyte(observation, terminology)
        if when is None or when <= reported or analyte is None:
            continue
        if observation.get("status") not in RESULTED_STATUSES:
            continue
        test = TEST_OF_ANALYTE.get(analyte, analyte)
        if test not in resulted or resulted[test][0] < when:
            resulted[test] = (when, f"Observation/{observation.get('id')}, {when.date().isoformat()}")
    return {test: where for test, (_, where) in resulted.items()}


def _analyte(observation: Mapping[str, Any], terminology: Terminology) -> str | None:
    loinc = terminology.system_names("loinc")
    for coding in codings(observation.get("code")):
        analyte = terminology.analyte_of_loinc(str(coding.get("code")))
        if coding.get("system") in loinc and analyte is not None:
            return analyte
    return None


def review_rule(
    rule: RuleOutcome, resulted: Mapping[str, str], answered: bool, suppress_days: int
) -> RuleOutcome:
    """The rule as chart-open shows it: only open suggestions; none open → no card."""
    if not (rule.fired and rule.status == "active"):
        return rule  # silent rules stay audited as would-fire
    if answered:
        return replace(rule, suppressed=f"answered by feedback for this report within {suppress_days} days")
    done = tuple(
        WithheldSuggestion(s.test, f"resulted after the report ({resulted[s.test]})")
        for s in rule.suggestions
        if s.test in resulted
    )
    still_open = [s for s in rule.suggestions if s.test not in resulted]
    withheld = (*rule.withheld, *done)
    if rule.selection_behavior == "at-most-one" and withheld:
        still_open = []  # the one choice the card offers has been made
    if still_open:
        return replace(rule, suggestions=tuple(recommend_first(still_open)), withheld=withheld)
    return replace(
        rule,
        suggestions=(),
        withheld=withheld,
        selection_behavior=None,
        suppressed=rule.suppressed or _nothing_open(withheld),
    )


def _nothing_open(withheld: Sequence[WithheldSuggestion]) -> str:
    if not withheld:
        return "no open suggestion: the card carries none"
    return "no open suggestion: " + "; ".join(f"{w.test} {w.reason}" for w in withheld)


def _suppressions(report_id: str, rule: RuleOutcome) -> list[dict[str, Any]]:
    """What the review (or the engine) withheld from this rule's card, for the audit."""
    if not (rule.fired and rule.status == "active"):
        return []
    found: list[dict[str, Any]] = [
        {"reportId": report_id, "topic": rule.rule_id, "suggestion": w.test, "reason": w.reason}
        for w in rule.withheld
    ]
    if rule.suppressed is not None:
        found.append({"reportId": report_id, "topic": rule.rule_id, "reason": rule.suppressed})
    return found


def _beyond_the_newest(evaluation: Evaluation, settings: Settings) -> dict[str, Any]:
    reason = f"not among the {settings.patient_view_max_reports} newest reports that mention the finding"
    return {"reportId": evaluation.report_id, "topic": None, "reason": reason}


# ---------------------------------------------------------------- cards and outcome


def name_the_report(rendered: RenderedCard, evaluation: Evaluation) -> RenderedCard:
    """Chart-open cards say which report they come from: its date and exam."""
    day = evaluation.report_date.date().isoformat() if evaluation.report_date else "unknown date"
    exam = escape_text(evaluation.reading.exam) if evaluation.reading.exam else "radiology report"
    card = rendered.card
    detail = f"From the report of {day} ({exam}).\n\n{card.detail or ''}".rstrip()
    suffix = f" (report of {day})"
    summary = card.summary + suffix if len(card.summary) + len(suffix) <= SUMMARY_LIMIT else card.summary
    return replace(rendered, card=card.model_copy(update={"summary": summary, "detail": detail}))


OUTCOME_PRECEDENCE = ("cards", "suppressed", "silent", "no-finding", "out-of-scope")


def chart_outcome(
    chart: ChartData,
    evaluations: Sequence[Evaluation],
    reviewed: Sequence[ReviewedReport],
    settings: Settings,
) -> tuple[str, str | None]:
    """The invocation's outcome (decision 6): the most telling among the reports read."""
    if not evaluations:
        return "no-finding", (
            f"no final, amended, corrected or appended radiology report of the last "
            f"{settings.patient_view_window_days} days ({chart.listed_reports} listed)"
        )
    considered = [r.evaluation for r in reviewed] or list(evaluations)
    outcome = min((e.outcome for e in considered), key=OUTCOME_PRECEDENCE.index)
    if outcome == "suppressed":
        return outcome, "every card withheld: answered by feedback, resulted or ordered after the report"
    if outcome in ("cards", "silent"):
        return outcome, None
    return outcome, next(e.outcome_reason for e in considered if e.outcome == outcome)


def _summaries(
    evaluated: Sequence[tuple[PatientData, Evaluation]], reviewed: Sequence[ReviewedReport]
) -> list[dict[str, Any]]:
    """One summary per report read; a reviewed report as chart-open left it."""
    after_review = {r.evaluation.report_id: r.evaluation for r in reviewed}
    return [evaluation_summary(after_review.get(e.report_id, e)) for _, e in evaluated]
