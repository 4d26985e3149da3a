"""End-to-end scenarios through the pure engine: FHIR JSON → evaluate → rules → cards.

Every test of this package drives `evaluate(PatientData(...), artifact, NOW)` with small FHIR
builders (those of tests/unit/clinical/builders.py plus a radiology report here), so a rule is
tested as the spec states it: from the report's words and the patient's data to the card.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

from cds_service.cards import RenderedCard, render_cards
from cds_service.cdshooks.models import Card
from cds_service.clinical.evaluate import evaluate
from cds_service.clinical.evaluation import Evaluation, RuleOutcome
from cds_service.clinical.patient_data import PatientData
from cds_service.knowledge import Artifact, load_artifact
from tests.unit.clinical.builders import (
    ALBUMIN,
    CALCIUM_TOTAL,
    CREATININE,
    EGFR,
    NOW,
    PHOSPHATE,
    PTH,
    VITAMIN_D,
    observation,
    patient,
)

ARTIFACT: Artifact = load_artifact()
TOPIC_SYSTEM = "urn:calcification-cds:topic"
RAD = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}

# A plain, in-scope, non-specific finding without red flags (type N, no feature).
PLAIN = "Small focus of soft tissue calcification in the calf."
# A specific benign entity (type B).
PHLEBOLITHS = "Phleboliths in the soft tissues of the calf."


def report(
    conclusion: str | None = PLAIN,
    *,
    code: str = "XR LOWER LEG",
    status: str = "final",
    report_id: str = "r1",
    presented: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A radiology DiagnosticReport of the lower limb whose impression is `conclusion`."""
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "status": status,
        "category": [RAD],
        "code": {"text": code},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-29T10:00:00+00:00",
    }
    if conclusion is not None:
        resource["conclusion"] = conclusion
    if presented is not None:
        data = base64.b64encode(presented.encode()).decode()
        resource["presentedForm"] = [{"contentType": "text/plain", "data": data}]
    resource.update(extra)
    return resource


def normal_core(*, days: float = 10) -> list[dict[str, Any]]:
    """Recent, normal calcium, phosphate, creatinine and eGFR (an adult's)."""
    return [
        observation(CALCIUM_TOTAL, 9.4, days=days, obs_id="ca"),
        observation(PHOSPHATE, 3.5, days=days, obs_id="phos"),
        observation(CREATININE, 0.8, days=days, obs_id="cr"),
        observation(EGFR, 92, "mL/min/{1.73_m2}", days=days, obs_id="egfr"),
        observation(ALBUMIN, 4.2, "g/dL", days=days, obs_id="alb"),
    ]


def normal_full(*, days: float = 10) -> list[dict[str, Any]]:
    """normal_core plus a recent normal PTH and vitamin D."""
    return [
        *normal_core(days=days),
        observation(PTH, 40, "pg/mL", days=days, obs_id="pth"),
        observation(VITAMIN_D, 30, "ng/mL", days=days, obs_id="vitd"),
    ]


def run(
    text: str | None = PLAIN,
    observations: Iterable[dict[str, Any]] | None = None,
    *,
    conditions: Sequence[dict[str, Any]] = (),
    orders: Sequence[dict[str, Any]] = (),
    birth_date: str | None = "1970-06-15",
    gender: str | None = "female",
    artifact: Artifact = ARTIFACT,
    all_silent: bool = False,
    report_resource: dict[str, Any] | None = None,
    patient_fields: dict[str, Any] | None = None,
    **report_fields: Any,
) -> Evaluation:
    """Evaluate one report for one patient; labs default to a normal, recent core panel."""
    data = PatientData(
        report=report_resource if report_resource is not None else report(text, **report_fields),
        patient={**patient(birth_date, gender), **(patient_fields or {})},
        observations=list(normal_full() if observations is None else observations),
        conditions=list(conditions),
        service_requests=list(orders),
    )
    return evaluate(data, artifact, NOW, all_silent=all_silent)


def outcome(evaluation: Evaluation, rule_id: str) -> RuleOutcome:
    return next(rule for rule in evaluation.rules if rule.rule_id == rule_id)


def fired(evaluation: Evaluation) -> set[str]:
    return {rule.rule_id for rule in evaluation.rules if rule.fired}


def shown(evaluation: Evaluation) -> set[str]:
    return {rule.rule_id for rule in evaluation.rules if rule.shows_card}


def suggested(evaluation: Evaluation, rule_id: str) -> list[str]:
    return [s.test for s in outcome(evaluation, rule_id).suggestions]


def rendered(evaluation: Evaluation, artifact: Artifact = ARTIFACT) -> list[RenderedCard]:
    return render_cards(evaluation, artifact, TOPIC_SYSTEM)


def card(evaluation: Evaluation, rule_id: str, artifact: Artifact = ARTIFACT) -> Card:
    return next(r.card for r in rendered(evaluation, artifact) if r.rule.rule_id == rule_id)


def card_json(evaluation: Evaluation, rule_id: str) -> dict[str, Any]:
    dumped: dict[str, Any] = card(evaluation, rule_id).model_dump(mode="json", exclude_none=True)
    return dumped


def labs(*extra: dict[str, Any], without: Iterable[str] = ()) -> list[dict[str, Any]]:
    """normal_full() minus the Observations whose id is in `without` (ca, phos, cr, egfr, alb,
    pth, vitd), plus `extra`."""
    dropped = set(without)
    return [*(o for o in normal_full() if o["id"] not in dropped), *extra]
