"""Small builders of FHIR R4 JSON for the clinical unit tests (no I/O, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"

# LOINC codes used throughout (terminology.md)
CALCIUM_TOTAL = "17861-6"
CALCIUM_IONIZED = "1995-0"
CALCIUM_CORRECTED_MMOL = "29265-6"
CALCIUM_CORRECTED_MG = "46099-8"
PHOSPHATE = "2777-1"
PTH = "2731-8"
CREATININE = "2160-0"
EGFR = "98979-8"
ALBUMIN = "1751-7"
VITAMIN_D = "62292-8"

_UNSET: Any = object()


def days_ago(days: float, now: datetime = NOW) -> str:
    return (now - timedelta(days=days)).isoformat()


def observation(
    loinc: str,
    value: float | None,
    unit: str | None = "mg/dL",
    *,
    days: float = 1,
    status: str = "final",
    comparator: str | None = None,
    code: str | None = _UNSET,
    system: str | None = UCUM,
    high: float | None = None,
    high_unit: str | None = _UNSET,
    interpretation: str | None = None,
    obs_id: str | None = None,
    when: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A lab Observation; ``code`` defaults to ``unit`` (a UCUM-coded Quantity)."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_id or f"{loinc}-{value}-{days}",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
    }
    resource.update(when if when is not None else {"effectiveDateTime": days_ago(days)})
    if value is not None:
        resource["valueQuantity"] = quantity(
            value, unit, code=unit if code is _UNSET else code, system=system, comparator=comparator
        )
    if high is not None:
        bound_unit = unit if high_unit is _UNSET else high_unit
        resource["referenceRange"] = [{"high": quantity(high, bound_unit, code=bound_unit)}]
    if interpretation is not None:
        resource["interpretation"] = [{"coding": [{"code": interpretation}]}]
    return resource


def quantity(
    value: float,
    unit: str | None,
    *,
    code: str | None = None,
    system: str | None = UCUM,
    comparator: str | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"value": value}
    if unit is not None:
        result["unit"] = unit
    if code is not None:
        result["code"] = code
        if system is not None:
            result["system"] = system
    if comparator is not None:
        result["comparator"] = comparator
    return result


def condition(
    system: str,
    code: str,
    *,
    display: str | None = None,
    clinical_status: str | None = "active",
    verification_status: str | None = None,
    cond_id: str = "c1",
    **extra: Any,
) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    resource: dict[str, Any] = {"resourceType": "Condition", "id": cond_id, "code": {"coding": [coding]}}
    if clinical_status is not None:
        resource["clinicalStatus"] = {"coding": [{"code": clinical_status}]}
    if verification_status is not None:
        resource["verificationStatus"] = {"coding": [{"code": verification_status}]}
    resource.update(extra)
    return resource


def service_request(
    *codes: tuple[str, str],
    status: str = "active",
    authored_days_ago: float | None = 1,
    sr_id: str = "sr1",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": sr_id,
        "status": status,
        "intent": "order",
        "code": {"coding": [{"system": system, "code": code} for system, code in codes]},
    }
    if authored_days_ago is not None:
        resource["authoredOn"] = days_ago(authored_days_ago)
    resource.update(extra)
    return resource


def patient(birth_date: str | None = "1970-06-15", gender: str | None = "female") -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": "p1"}
    if birth_date is not None:
        resource["birthDate"] = birth_date
    if gender is not None:
        resource["gender"] = gender
    return resource
