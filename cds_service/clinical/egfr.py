"""CKD-EPI 2021, the race-free creatinine equation (Inker et al., NEJM 2021; terminology.md).

    eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 [female]
    κ = 0.7 (F) / 0.9 (M); α = −0.241 (F) / −0.302 (M); Scr in mg/dL; age ≥ 18.

These constants are the published equation, not clinical thresholds, so they live here rather
than in the artifact's parameters. It is defined for adults only: children never get one (§5).
"""

from __future__ import annotations

from dataclasses import dataclass

MINIMUM_AGE_YEARS = 18


@dataclass(frozen=True)
class _SexTerms:
    kappa: float
    alpha: float
    factor: float


_TERMS = {
    "female": _SexTerms(kappa=0.7, alpha=-0.241, factor=1.012),
    "male": _SexTerms(kappa=0.9, alpha=-0.302, factor=1.0),
}


def ckd_epi_2021(creatinine_mg_dl: float, age_years: int, sex: str) -> float:
    """eGFR in mL/min/1.73 m², unrounded. Raises ValueError outside the equation's domain."""
    terms = _TERMS.get(sex)
    if terms is None:
        raise ValueError(f"CKD-EPI 2021 needs sex female or male, not {sex!r}")
    if age_years < MINIMUM_AGE_YEARS:
        raise ValueError(f"CKD-EPI 2021 is for adults (age {age_years})")
    if creatinine_mg_dl <= 0:
        raise ValueError(f"creatinine must be positive ({creatinine_mg_dl})")
    ratio = creatinine_mg_dl / terms.kappa
    under = float(min(ratio, 1.0) ** terms.alpha)
    over = float(max(ratio, 1.0) ** -1.200)
    return 142 * under * over * 0.9938**age_years * terms.factor


def can_compute(age_years: int | None, sex: str | None) -> bool:
    """Age known and adult, sex known: otherwise §3 and §5 say no computed eGFR."""
    return age_years is not None and age_years >= MINIMUM_AGE_YEARS and sex in _TERMS
