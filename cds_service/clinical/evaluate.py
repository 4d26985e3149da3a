"""One evaluation: PatientData + knowledge artifact + now → Evaluation. Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cds_service.clinical.conditions import assess_history
from cds_service.clinical.evaluation import Evaluation
from cds_service.clinical.labs import assess_labs
from cds_service.clinical.orders import find_open_orders
from cds_service.clinical.patient import administrative_sex, age_in_years
from cds_service.clinical.patient_data import PatientData
from cds_service.clinical.report import assess_scope, read_report
from cds_service.clinical.rules import Facts, apply_rules, suspected_mechanisms
from cds_service.clinical.time import report_date
from cds_service.knowledge import Artifact


def evaluate(data: PatientData, artifact: Artifact, now: datetime, *, all_silent: bool = False) -> Evaluation:
    """Evaluate one report; `all_silent` when an expired artifact must not show cards."""
    report = data.report
    reading = read_report(report, data.report_results, data.attachments, artifact.lexicons)
    scope = assess_scope(report, reading, artifact.lexicons)
    age = age_in_years(data.patient, now)
    sex = administrative_sex(data.patient)
    base = Evaluation(
        evaluated_at=now,
        artifact_id=artifact.id,
        artifact_version=artifact.version,
        artifact_hash=artifact.content_hash,
        scope=scope,
        report_id=str(report.get("id", "")),
        patient_id=(data.patient or {}).get("id"),
        age_years=age,
        is_child=age is not None and age < artifact.parameters.child_age_below,
        sex=sex,
        reading=reading,
        data_gaps=tuple(f"{gap.what}: {gap.reason}" for gap in data.gaps),
        report_date=report_date(report),
    )
    if not scope.evaluated or not reading.finding_counts:
        return base
    facts = Facts(
        reading=reading,
        labs=assess_labs(data.observations, artifact, now, age, sex),
        history=assess_history(data.conditions, artifact.terminology, now),
        orders=find_open_orders(
            data.service_requests, artifact.terminology, now, artifact.parameters.open_order_days
        ),
        is_child=base.is_child,
        artifact=artifact,
    )
    return replace(
        base,
        labs=facts.labs,
        history=facts.history,
        open_orders=facts.orders,
        mechanisms=suspected_mechanisms(facts),
        rules=apply_rules(facts, all_silent=all_silent),
    )
