"""What the audit keeps of an evaluation and of its cards: codes, ids, values, dates — no text
from the patient's record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cds_service.audit.records import CardRecord, RuleFiring
from cds_service.cards.render import RenderedCard
from cds_service.clinical.evaluation import Evaluation, LabValue


def card_records(cards: Sequence[RenderedCard]) -> list[CardRecord]:
    return [
        CardRecord(
            uuid=str(rendered.card.uuid),
            topic=rendered.rule.rule_id,
            rule_id=rendered.rule.rule_id,
            rule_version=rendered.rule.rule_version,
            indicator=rendered.card.indicator,
            report_id=rendered.report_id,
            suggestion_uuids=rendered.suggestion_uuids,
        )
        for rendered in cards
    ]


def _lab(lab: LabValue) -> dict[str, Any]:
    return {
        "analyte": lab.analyte,
        "value": lab.value,
        "unit": lab.unit,
        "comparator": lab.comparator,
        "effective": lab.effective.isoformat() if lab.effective else None,
        "observation": lab.observation_id,
        "code": lab.code,
        "converted": lab.converted,
        "computed": lab.computed,
        "upperLimit": lab.upper_limit,
        "upperLimitSource": lab.upper_limit_source,
    }


def evaluation_summary(evaluation: Evaluation) -> dict[str, Any]:
    """One evaluated report, as governance reviews it (no free text, no names)."""
    reading, features = evaluation.reading, evaluation.reading.features
    return {
        "reportId": evaluation.report_id,
        "evaluatedAt": evaluation.evaluated_at.isoformat(),
        "inScope": evaluation.scope.evaluated,
        "scopeReason": evaluation.scope.reason,
        "findingCounts": reading.finding_counts,
        "findingType": reading.finding_type.value if reading.finding_type else None,
        "assertions": sorted({m.assertion.value for m in reading.mentions}),
        "benignEntities": sorted(reading.benign_entities),
        "features": {
            "sizeCm": features.size_cm,
            "depth": features.depth.value,
            "laterality": features.laterality.value,
            "locations": sorted(features.locations),
            "concerningPatterns": sorted(features.concerning_patterns),
            "associatedMass": features.associated_mass,
            "boneInvolvement": features.bone_involvement,
            "growth": features.growth,
            "painfulMass": features.painful_mass,
            "multiplicity": features.multiplicity,
            "suspectedMalignancy": features.suspected_malignancy,
            "history": sorted(features.history),
        },
        "ageYears": evaluation.age_years,
        "child": evaluation.is_child,
        "labs": [_lab(lab) for lab in evaluation.labs.values.values()],
        "computedEgfr": _lab(evaluation.labs.egfr)
        if evaluation.labs.egfr and evaluation.labs.egfr.computed
        else None,
        "calciumUsed": evaluation.labs.calcium.analyte if evaluation.labs.calcium else None,
        "missingCore": list(evaluation.labs.missing_core),
        "unusableLabs": [
            {"analyte": u.analyte, "reason": u.reason, "observation": u.observation_id}
            for u in evaluation.labs.unusable
        ],
        "conditions": [concept for concept, _ in evaluation.history.evidence],
        "openOrders": [
            {"covers": o.covers, "serviceRequest": o.service_request_id}
            for o in evaluation.open_orders.orders
        ],
        "dataGaps": list(evaluation.data_gaps),
        "mechanisms": [m.value for m in evaluation.mechanisms],
        "rules": [
            {
                "ruleId": rule.rule_id,
                "ruleVersion": rule.rule_version,
                "status": rule.status,
                "fired": rule.fired,
                "reasons": list(rule.reasons),
                "indicator": rule.indicator,
                "suggestions": [s.test for s in rule.suggestions],
                "withheld": [{"test": w.test, "reason": w.reason} for w in rule.withheld],
                "suppressed": rule.suppressed,
                "wouldFireSilently": rule.fired and rule.status == "silent",
            }
            for rule in evaluation.rules
        ],
    }


def rule_firings(evaluation: Evaluation) -> list[RuleFiring]:
    """Every rule that fired (active) or would have (silent), for governance's counts."""
    return [
        RuleFiring(
            rule.rule_id,
            rule.rule_version,
            evaluation.report_id,
            "would-fire" if rule.status == "silent" else "fired",
        )
        for rule in evaluation.rules
        if rule.fired
    ]
