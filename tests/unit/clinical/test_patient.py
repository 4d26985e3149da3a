"""§1, §5, §6.37: age at the evaluation time, administrative sex, child or adult."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cds_service.clinical.patient import administrative_sex, age_in_years, is_child, parse_fhir_datetime
from cds_service.knowledge import Artifact
from tests.unit.clinical.builders import NOW, patient


@pytest.mark.parametrize(
    ("birth_date", "now", "age"),
    [
        pytest.param("2008-11-30", NOW, 18, id="§6.37 age at now: 18th birthday today"),
        pytest.param("2008-12-01", NOW, 17, id="§6.37 age at now: 18th birthday tomorrow"),
        pytest.param(
            "2008-12-01",
            datetime(2026, 12, 1, tzinfo=UTC),
            18,
            id="§6.37 the same patient is 18 when evaluated a day later (chart-open)",
        ),
        pytest.param("1970-06-15", NOW, 56, id="§1 adult age from birthDate"),
        pytest.param("2008-11", NOW, 18, id="partial birthDate (month): youngest age it allows"),
        pytest.param("2008-12", NOW, 17, id="partial birthDate (month) not yet past"),
        pytest.param("2008", NOW, 17, id="partial birthDate (year): youngest age it allows"),
        pytest.param("2027-01-01", NOW, None, id="a birthDate after now gives no age"),
        pytest.param("not a date", NOW, None, id="an unreadable birthDate gives no age"),
        pytest.param(None, NOW, None, id="§1 unknown age"),
    ],
)
def test_age_in_years_is_measured_at_now(birth_date: str | None, now: datetime, age: int | None) -> None:
    assert age_in_years(patient(birth_date=birth_date), now) == age


def test_no_patient_has_no_age_and_no_sex() -> None:
    assert age_in_years(None, NOW) is None
    assert administrative_sex(None) is None


@pytest.mark.parametrize(
    ("gender", "sex"),
    [
        pytest.param("female", "female", id="§3 CKD-EPI: female"),
        pytest.param("male", "male", id="§3 CKD-EPI: male"),
        pytest.param("other", None, id="§3 gender other: sex unknown"),
        pytest.param("unknown", None, id="§3 gender unknown: sex unknown"),
        pytest.param(None, None, id="§3 no gender: sex unknown"),
    ],
)
def test_administrative_sex(gender: str | None, sex: str | None) -> None:
    assert administrative_sex(patient(gender=gender)) == sex


@pytest.mark.parametrize(
    ("age", "child"),
    [
        pytest.param(17, True, id="§5 children: age < 18"),
        pytest.param(18, False, id="§5 18 is an adult"),
        pytest.param(None, False, id="§1 unknown age takes adult thresholds"),
    ],
)
def test_child_is_below_the_artifacts_age(artifact: Artifact, age: int | None, child: bool) -> None:
    assert is_child(age, artifact.parameters) is child


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("2026-11-02", datetime(2026, 11, 2, tzinfo=UTC), id="FHIR date"),
        pytest.param("2026-11", datetime(2026, 11, 1, tzinfo=UTC), id="FHIR partial date (month)"),
        pytest.param("2026-11-02T10:00:00+01:00", datetime(2026, 11, 2, 9, tzinfo=UTC), id="FHIR dateTime"),
        pytest.param("2026-11-02T10:00:00Z", datetime(2026, 11, 2, 10, tzinfo=UTC), id="FHIR instant (Z)"),
        pytest.param("yesterday", None, id="unreadable"),
        pytest.param(20261102, None, id="not a string"),
    ],
)
def test_fhir_dates_are_read_as_aware_datetimes(raw: object, expected: datetime | None) -> None:
    assert parse_fhir_datetime(raw) == expected
