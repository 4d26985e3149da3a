"""The patient's active conditions that matter to the rules (§3, §6.6, §6.12, §6.29, §6.34).

A Condition counts when it is active and not withdrawn:
- ``clinicalStatus`` active, recurrence or relapse. A Condition *without* ``clinicalStatus`` counts
  as active unless it has an ``abatement[x]``: FHIR allows the status to be absent, problem lists
  often omit it, and missing a CKD or hyperparathyroidism would hide a metabolic cause.
- ``verificationStatus`` entered-in-error or refuted: ignored. Unconfirmed, provisional and
  differential diagnoses still count (the brief names only these two as withdrawn).
Codes are compared, never displays: SNOMED CT exactly, ICD-10-CM with or without the dot, the most
specific entry winning (N18.1 is stage 1, an unlisted N18.x is CKD of unspecified stage).
A concept with ``recent_within_days`` (leg injury) counts only when its onset, else its
recordedDate, lies within that many days of ``now``; without either date it counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cds_service.clinical.evaluation import ClinicalHistory
from cds_service.clinical.patient import as_utc, codings, first_code, parse_fhir_datetime
from cds_service.clinical.patient_data import Resource
from cds_service.knowledge.terminology import ConditionConcept, SystemName, Terminology

ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})
WITHDRAWN_VERIFICATIONS = frozenset({"entered-in-error", "refuted"})
_SYSTEM_LABEL: dict[SystemName, str] = {"snomed": "SNOMED", "icd10cm": "ICD-10-CM"}


@dataclass(frozen=True)
class _Match:
    concept: ConditionConcept
    system: SystemName
    code: str
    display: str | None


def assess_history(
    conditions: Sequence[Resource], terminology: Terminology, now: datetime
) -> ClinicalHistory:
    """What the active Conditions show, each flag with the Condition that showed it."""
    flags: set[str] = set()
    evidence: list[tuple[str, str]] = []
    for condition in conditions:
        if not is_active(condition):
            continue
        for match in _matches(condition, terminology):
            if not _recent_enough(condition, match.concept, as_utc(now)):
                continue
            flags.update(match.concept.counts_as)
            evidence.append((match.concept.counts_as[0], _describe(condition, match)))
    return _history(flags, tuple(dict.fromkeys(evidence)))


def _history(flags: set[str], evidence: tuple[tuple[str, str], ...]) -> ClinicalHistory:
    """The artifact's ``counts_as`` flags as ClinicalHistory fields."""
    return ClinicalHistory(
        ckd_triggering="ckd-triggering" in flags,
        ckd_any="ckd" in flags,
        esrd_or_dialysis="esrd-or-dialysis" in flags,
        hyperparathyroidism="hyperparathyroidism" in flags,
        hypercalcaemia="hypercalcaemia" in flags,
        hyperphosphataemia="hyperphosphataemia" in flags,
        soft_tissue_neoplasm="soft-tissue-neoplasm" in flags,
        recent_leg_injury="leg-injury" in flags,
        inflammation="inflammation" in flags,
        connective_tissue_disease="connective-tissue-disease" in flags,
        hypervitaminosis_d="hypervitaminosis-d" in flags,
        evidence=evidence,
    )


def is_active(condition: Resource) -> bool:
    """Active and not withdrawn (see the module docstring for an absent clinicalStatus)."""
    if first_code(condition.get("verificationStatus")) in WITHDRAWN_VERIFICATIONS:
        return False
    status = first_code(condition.get("clinicalStatus"))
    if status is None:
        return not any(key.startswith("abatement") for key in condition)
    return status in ACTIVE_STATUSES


def _matches(condition: Resource, terminology: Terminology) -> Iterator[_Match]:
    """Every concept a coding of the Condition belongs to (codings are read independently)."""
    snomed, icd10cm = terminology.system_names("snomed"), terminology.system_names("icd10cm")
    for coding in codings(condition.get("code")):
        system, code = coding.get("system"), coding["code"]
        display = coding.get("display") if isinstance(coding.get("display"), str) else None
        if system in snomed:
            concept = _snomed_concept(code, terminology)
            if concept is not None:
                yield _Match(concept, "snomed", code, display)
        elif system in icd10cm:
            concept = _icd_concept(code, terminology)
            if concept is not None:
                yield _Match(concept, "icd10cm", code, display)


def _snomed_concept(code: str, terminology: Terminology) -> ConditionConcept | None:
    return next(
        (
            concept
            for concept in terminology.conditions.values()
            if any(entry.code == code for entry in concept.snomed)
        ),
        None,
    )


def _icd_concept(code: str, terminology: Terminology) -> ConditionConcept | None:
    """The concept whose entry matches most specifically (longest dotless code)."""
    best: tuple[int, ConditionConcept | None] = (0, None)
    for concept in terminology.conditions.values():
        for entry in concept.icd10cm:
            specificity = entry.matches(code)
            if specificity > best[0]:
                best = (specificity, concept)
    return best[1]


def _recent_enough(condition: Resource, concept: ConditionConcept, now: datetime) -> bool:
    if concept.recent_within_days is None:
        return True
    when = _onset(condition)
    return when is None or now - when <= timedelta(days=concept.recent_within_days)


def _onset(condition: Resource) -> datetime | None:
    """Onset (dateTime or period start), else the date it was recorded."""
    period = condition.get("onsetPeriod")
    start = period.get("start") if isinstance(period, Mapping) else None
    for raw in (condition.get("onsetDateTime"), start, condition.get("recordedDate")):
        moment = parse_fhir_datetime(raw)
        if moment is not None:
            return moment
    return None


def _describe(condition: Resource, match: _Match) -> str:
    """``Condition/abc: Chronic kidney disease stage 4 (SNOMED 431857002)`` for the detail."""
    text = (condition.get("code") or {}).get("text")
    display = match.display or (text if isinstance(text, str) else None) or match.concept.label
    reference = f"Condition/{condition.get('id')}" if condition.get("id") else "Condition"
    return f"{reference}: {display} ({_SYSTEM_LABEL[match.system]} {match.code})"
