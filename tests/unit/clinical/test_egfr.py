"""terminology.md "Formulas": CKD-EPI 2021 (race-free) and its domain (§3, §5)."""

from __future__ import annotations

import pytest

from cds_service.clinical.egfr import can_compute, ckd_epi_2021


@pytest.mark.parametrize(
    ("sex", "age", "creatinine", "expected"),
    [
        pytest.param("female", 55, 0.9, 75.5, id="CKD-EPI 2021 vector: F 55 y Scr 0.9 -> 75.5"),
        pytest.param("male", 60, 1.0, 86.2, id="CKD-EPI 2021 vector: M 60 y Scr 1.0 -> 86.2"),
        pytest.param("male", 70, 2.5, 27.0, id="CKD-EPI 2021 vector: M 70 y Scr 2.5 -> 27.0"),
    ],
)
def test_ckd_epi_2021_test_vectors(sex: str, age: int, creatinine: float, expected: float) -> None:
    assert ckd_epi_2021(creatinine, age, sex) == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize(
    ("age", "sex", "computable"),
    [
        pytest.param(18, "female", True, id="§3 adults (18) with known sex get a computed eGFR"),
        pytest.param(17, "male", False, id="§5 children never get a computed eGFR"),
        pytest.param(None, "male", False, id="§1 unknown age: no computed eGFR"),
        pytest.param(60, None, False, id="§3 unknown sex: no computed eGFR"),
        pytest.param(60, "other", False, id="§3 sex other than female/male: no computed eGFR"),
    ],
)
def test_who_can_have_a_computed_egfr(age: int | None, sex: str | None, computable: bool) -> None:
    assert can_compute(age, sex) is computable


@pytest.mark.parametrize(
    ("creatinine", "age", "sex"),
    [
        pytest.param(1.0, 17, "male", id="CKD-EPI 2021 is for age >= 18"),
        pytest.param(1.0, 40, "unknown", id="CKD-EPI 2021 needs female or male"),
        pytest.param(0.0, 40, "female", id="CKD-EPI 2021 needs a positive creatinine"),
    ],
)
def test_outside_the_equations_domain_is_an_error(creatinine: float, age: int, sex: str) -> None:
    with pytest.raises(ValueError):
        ckd_epi_2021(creatinine, age, sex)
