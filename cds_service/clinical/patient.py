"""The patient as the rules see them (§1, §5, §6.37), and the small readers of FHIR JSON the
clinical modules share (dates, codings).

Age is measured at the evaluation time ``now``, never at the clock's time, so chart-open and
report-sign agree and tests are repeatable.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from cds_service.clinical.patient_data import Resource
from cds_service.knowledge.model import Parameters

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_SEXES = ("female", "male")


def age_in_years(patient: Resource | None, now: datetime) -> int | None:
    """Completed years at ``now``; None when the birth date is absent, unreadable or in the future.

    A partial birth date (``1970`` or ``1970-04``) gives the youngest age it allows: the patient
    is treated as a child until they are certainly not one (§5 withholds adult defaults).
    """
    if patient is None:
        return None
    birth = _latest_birth_date(patient.get("birthDate"))
    if birth is None:
        return None
    today = as_utc(now).date()
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return years if years >= 0 else None


def _latest_birth_date(raw: object) -> date | None:
    """The last day a (possibly partial) FHIR ``date`` can stand for."""
    if not isinstance(raw, str):
        return None
    match = _PARTIAL_DATE.match(raw.strip())
    if match is None:
        return None
    year, month, day = match.groups()
    month_number = int(month) if month else 12
    try:
        last_day = calendar.monthrange(int(year), month_number)[1]
        return date(int(year), month_number, int(day) if day else last_day)
    except ValueError:
        return None


def administrative_sex(patient: Resource | None) -> str | None:
    """``female`` or ``male``; anything else is unknown (CKD-EPI then cannot be computed)."""
    if patient is None:
        return None
    gender = patient.get("gender")
    return gender if gender in _SEXES else None


def is_child(age_years: int | None, parameters: Parameters) -> bool:
    """Paediatric rules (§5) apply below the artifact's age; unknown age takes adult ones (§1)."""
    return age_years is not None and age_years < parameters.child_age_below


def as_utc(moment: datetime) -> datetime:
    """An aware datetime; a naive one is taken to be UTC so comparisons never fail."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_fhir_datetime(raw: object) -> datetime | None:
    """A FHIR ``date``/``dateTime``/``instant`` as an aware datetime, None when unreadable.

    Partial dates (``2026``, ``2026-11``, ``2026-11-02``) stand for their first moment, in UTC.
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    try:  # nearly every value: a full dateTime, or a date (midnight, UTC)
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    match = _PARTIAL_DATE.match(text)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
    except ValueError:
        return None


def codings(concept: object) -> Iterator[Mapping[str, Any]]:
    """The codings of a CodeableConcept (R4), or of an R5 CodeableReference's ``concept``.

    Resources are parsed JSON, so objects are ``dict``s: checked as such, not as ``Mapping``
    (an ABC check costs five times more, on every coding of every resource of a call).
    """
    if not isinstance(concept, dict):
        return
    inner = concept.get("concept")
    codeable: dict[str, Any] = inner if isinstance(inner, dict) else concept
    for coding in codeable.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            yield coding


def first_code(concept: object) -> str | None:
    """The first coded value of a CodeableConcept (statuses, interpretation flags)."""
    return next((coding["code"] for coding in codings(concept)), None)
