"""§4 CalcMetabolicAbnormal: each trigger, its suggestions and their conditions; §3 upper limits;
§5 children; §6.1, §6.6, §6.7, §6.10, §6.11, §6.12, §6.17, §6.27, §6.28."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.clinical.builders import (
    ALBUMIN,
    CALCIUM_CORRECTED_MG,
    CALCIUM_IONIZED,
    CALCIUM_TOTAL,
    CREATININE,
    EGFR,
    ICD10CM,
    LOINC,
    PHOSPHATE,
    PTH,
    SNOMED,
    VITAMIN_D,
    condition,
    observation,
    service_request,
)
from tests.unit.rules.scenario import PHLEBOLITHS, labs, outcome, run, suggested

META = "CalcMetabolicAbnormal"
EGFR_UNIT = "mL/min/{1.73_m2}"
ADULT_BIRTH, CHILD_BIRTH = "1970-06-15", "2014-03-01"


def egfr(value: float, comparator: str | None = None) -> dict[str, Any]:
    return observation(EGFR, value, EGFR_UNIT, comparator=comparator, obs_id="egfr")


# ------------------------------------------------------------------ triggers: labs


@pytest.mark.parametrize(
    ("observations", "reason"),
    [
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.9, obs_id="ca2"), without=["ca"]),
            "calcium above",
            id="§4 CalcMetabolicAbnormal total Ca > ULN (adult default 10.4 mg/dL)",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 2.7, "mmol/L", obs_id="ca2"), without=["ca"]),
            "calcium above",
            id="§3 total Ca 2.7 mmol/L > 2.60 mmol/L default",
        ),
        pytest.param(
            labs(observation(CALCIUM_IONIZED, 1.4, "mmol/L", obs_id="ica")),
            "calcium above",
            id="§4 CalcMetabolicAbnormal ionized Ca > ULN (1.30 mmol/L)",
        ),
        pytest.param(
            labs(
                observation(CALCIUM_TOTAL, 10.2, obs_id="ca2"),
                observation(ALBUMIN, 3.0, "g/dL", obs_id="alb2"),
                without=["ca", "alb"],
            ),
            "calcium above",
            id="§4 CalcMetabolicAbnormal corrected Ca > ULN (§3 Ca + 0.8 × (4 − alb))",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.0, high=9.9, obs_id="ca2"), without=["ca"]),
            "calcium above",
            id="§3 the Observation's referenceRange.high is the ULN when present",
        ),
        pytest.param(
            labs(observation(PHOSPHATE, 4.9, obs_id="p2"), without=["phos"]),
            "phosphate above",
            id="§4 CalcMetabolicAbnormal phosphate > ULN (4.5 mg/dL)",
        ),
        pytest.param(
            labs(observation(PTH, 90, "pg/mL", obs_id="pth2"), without=["pth"]),
            "PTH above",
            id="§4 CalcMetabolicAbnormal PTH > ULN (65 pg/mL)",
        ),
        pytest.param(
            labs(observation(PTH, 9.0, "pmol/L", obs_id="pth2"), without=["pth"]),
            "PTH above",
            id="§3 PTH 9 pmol/L > 6.9 pmol/L default",
        ),
        pytest.param(
            labs(egfr(45), without=["egfr"]), "eGFR below 60", id="§4 CalcMetabolicAbnormal eGFR < 60"
        ),
        pytest.param(
            labs(observation(CREATININE, 2.5, obs_id="cr2"), without=["egfr", "cr"]),
            "eGFR below 60",
            id="§3 eGFR computed with CKD-EPI 2021 from a recent creatinine",
        ),
        pytest.param(
            labs(egfr(60, "<"), without=["egfr"]), "eGFR below 60", id="§6.28 eGFR '<60' is below 60"
        ),
        pytest.param(
            labs(observation(CALCIUM_CORRECTED_MG, 10.8, obs_id="cca")),
            "calcium above",
            id="§6.27 a reported corrected calcium is compared whatever the albumin",
        ),
    ],
)
def test_lab_triggers(observations: list[dict[str, Any]], reason: str) -> None:
    rule = outcome(run(observations=observations), META)
    assert rule.fired and rule.indicator == "warning", rule.reasons
    assert any(reason in r for r in rule.reasons), rule.reasons


@pytest.mark.parametrize(
    "observations",
    [
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.4, obs_id="ca2"), without=["ca"]),
            id="§4 CalcMetabolicAbnormal Ca equal to the ULN is not above it",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.6, high=10.8, obs_id="ca2"), without=["ca"]),
            id="§3 referenceRange.high wins over the adult default",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 11.5, days=100, obs_id="ca2"), without=["ca"]),
            id="§6.1 a stale calcium never triggers",
        ),
        pytest.param(
            labs(observation(PTH, 120, "pg/mL", days=400, obs_id="pth2"), without=["pth"]),
            id="§6.1 a PTH older than 365 days never triggers",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 11.5, "mg", obs_id="ca2"), without=["ca"]),
            id="§6.1 a calcium in an unknown unit never triggers",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 11.5, status="preliminary", obs_id="ca2"), without=["ca"]),
            id="§3 a preliminary value never meets a threshold",
        ),
        pytest.param(
            labs(
                observation(CALCIUM_TOTAL, 10.9, obs_id="ca2"),
                observation(CALCIUM_IONIZED, 1.2, "mmol/L", obs_id="ica"),
                without=["ca"],
            ),
            id="§3 ionized Ca, when recent, wins over total",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.0, interpretation="H", obs_id="ca2"), without=["ca"]),
            id="§6.28 an adult's H flag is ignored",
        ),
        pytest.param(labs(egfr(90, ">"), without=["egfr"]), id="§6.28 eGFR '>90' is not below 60"),
        pytest.param(labs(egfr(60), without=["egfr"]), id="§4 CalcMetabolicAbnormal eGFR 60 is not < 60"),
        pytest.param(
            labs(
                observation(ALBUMIN, 3.0, "g/dL", days=120, obs_id="alb2"),
                observation(CALCIUM_TOTAL, 10.2, obs_id="ca2"),
                without=["ca", "alb"],
            ),
            id="§3 corrected Ca only when albumin is recent",
        ),
    ],
)
def test_lab_does_not_trigger(observations: list[dict[str, Any]]) -> None:
    assert not outcome(run(observations=observations), META).fired


def test_corrected_calcium_uses_total_reference_range() -> None:
    """§6.11 corrected Ca vs the total-calcium Observation's own referenceRange.high."""
    observations = labs(
        observation(CALCIUM_TOTAL, 9.6, high=10.0, obs_id="ca2"),
        observation(ALBUMIN, 3.0, "g/dL", obs_id="alb2"),
        without=["ca", "alb"],
    )
    rule = outcome(run(observations=observations), META)
    assert rule.fired and any("upper limit 10" in r for r in rule.reasons), rule.reasons


# ------------------------------------------------------------------ triggers: conditions (§6.6)


@pytest.mark.parametrize(
    ("system", "code"),
    [
        pytest.param(SNOMED, "433144002", id="§6.6 CKD G3 (SNOMED) triggers"),
        pytest.param(SNOMED, "431857002", id="§6.6 CKD G4 (SNOMED) triggers"),
        pytest.param(ICD10CM, "N18.5", id="§6.6 CKD G5 (ICD-10-CM) triggers"),
        pytest.param(SNOMED, "709044004", id="§6.6 CKD unspecified stage (709044004) triggers"),
        pytest.param(ICD10CM, "N18.9", id="§6.6 CKD unspecified stage (N18.9) triggers"),
        pytest.param(SNOMED, "46177005", id="§6.6 ESRD triggers"),
        pytest.param(ICD10CM, "Z99.2", id="§6.6 dialysis dependence triggers"),
        pytest.param(SNOMED, "66999008", id="§4 CalcMetabolicAbnormal active hyperparathyroidism"),
        pytest.param(ICD10CM, "E21.0", id="§4 CalcMetabolicAbnormal hyperparathyroidism (ICD-10-CM)"),
        pytest.param(SNOMED, "66931009", id="§4 CalcMetabolicAbnormal active hypercalcaemia"),
        pytest.param(ICD10CM, "E83.39", id="§4 CalcMetabolicAbnormal active hyperphosphataemia"),
    ],
)
def test_condition_triggers(system: str, code: str) -> None:
    rule = outcome(run(conditions=[condition(system, code)]), META)
    assert rule.fired and any("active condition" in r for r in rule.reasons), rule.reasons


@pytest.mark.parametrize(
    ("system", "code", "extra"),
    [
        pytest.param(SNOMED, "431855005", {}, id="§6.6 CKD G1 does not trigger"),
        pytest.param(ICD10CM, "N18.2", {}, id="§6.6 CKD G2 does not trigger"),
        pytest.param(
            SNOMED, "433144002", {"clinical_status": "resolved"}, id="§3 an inactive condition does not count"
        ),
        pytest.param(
            SNOMED,
            "433144002",
            {"verification_status": "entered-in-error"},
            id="§3 an entered-in-error condition does not count",
        ),
    ],
)
def test_condition_does_not_trigger(system: str, code: str, extra: dict[str, Any]) -> None:
    assert not outcome(run(conditions=[condition(system, code, **extra)]), META).fired


def test_report_text_alone_never_triggers() -> None:
    """§6.29 report text (history of CKD) never triggers CalcMetabolicAbnormal on its own."""
    evaluation = run(
        None, presented="HISTORY: CKD on dialysis.\nIMPRESSION: Soft tissue calcification in the calf."
    )
    assert not outcome(evaluation, META).fired


def test_fires_for_type_b_too() -> None:
    """§4 CalcMetabolicAbnormal needs only the finding to count (type B included)."""
    evaluation = run(PHLEBOLITHS, conditions=[condition(SNOMED, "46177005")])
    assert outcome(evaluation, META).fired


# ------------------------------------------------------------------ suggestions


def test_pth_and_vitamin_d_when_none_recent() -> None:
    """§4 CalcMetabolicAbnormal PTH if none recent; 25-OH vitamin D if none recent; any; §6.39."""
    rule = outcome(run(observations=labs(egfr(45), without=["egfr", "pth", "vitd"])), META)
    assert [s.test for s in rule.suggestions] == ["pth", "vitamin-d"]
    assert rule.selection_behavior == "any"
    assert [s.recommended for s in rule.suggestions] == [True, False]


def test_no_pth_or_vitamin_d_when_recent() -> None:
    """§4 CalcMetabolicAbnormal PTH / vitamin D only 'if none recent'."""
    assert suggested(run(observations=labs(egfr(45), without=["egfr"])), META) == []


def test_stale_pth_counts_as_none_recent() -> None:
    """§6.1 a stale PTH counts as missing, so PTH is suggested."""
    observations = labs(
        egfr(45), observation(PTH, 40, "pg/mL", days=400, obs_id="pth2"), without=["egfr", "pth"]
    )
    assert "pth" in suggested(run(observations=observations), META)


@pytest.mark.parametrize(
    ("code", "test"),
    [
        pytest.param(PTH, "pth", id="§4 CalcMetabolicAbnormal PTH not suggested when already ordered"),
        pytest.param(
            VITAMIN_D, "vitamin-d", id="§4 CalcMetabolicAbnormal vitamin D not suggested when already ordered"
        ),
    ],
)
def test_not_when_ordered(code: str, test: str) -> None:
    evaluation = run(
        observations=labs(egfr(45), without=["egfr", "pth", "vitd"]), orders=[service_request((LOINC, code))]
    )
    rule = outcome(evaluation, META)
    assert test not in [s.test for s in rule.suggestions]
    assert test in [w.test for w in rule.withheld]


@pytest.mark.parametrize(
    ("observations", "conditions"),
    [
        pytest.param(labs(egfr(25), without=["egfr"]), [], id="§4 nephrology referral if eGFR < 30"),
        pytest.param(
            labs(egfr(15, "<"), without=["egfr"]), [], id="§6.28 eGFR '<15' is below 30 (nephrology)"
        ),
        pytest.param(labs(), [condition(SNOMED, "46177005")], id="§4 nephrology referral if ESRD"),
        pytest.param(labs(), [condition(SNOMED, "105502003")], id="§4 nephrology referral if dialysis"),
        pytest.param(
            labs(egfr(50), observation(PHOSPHATE, 5.2, obs_id="p2"), without=["egfr", "phos"]),
            [],
            id="§4 nephrology referral if eGFR < 60 with high phosphate",
        ),
    ],
)
def test_nephrology_referral(observations: list[dict[str, Any]], conditions: list[dict[str, Any]]) -> None:
    evaluation = run(observations=observations, conditions=conditions)
    assert "referral-nephrology" in suggested(evaluation, META)


@pytest.mark.parametrize(
    "observations",
    [
        pytest.param(labs(egfr(45), without=["egfr"]), id="§4 no nephrology referral for eGFR 30-59 alone"),
        pytest.param(
            labs(egfr(15, ">"), without=["egfr"]), id="§6.28 eGFR '>15' does not meet < 30 (no nephrology)"
        ),
    ],
)
def test_no_nephrology_referral(observations: list[dict[str, Any]]) -> None:
    assert "referral-nephrology" not in suggested(run(observations=observations), META)


def high_ca_pth(*extra: dict[str, Any], without: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Recent calcium and PTH both above their ULN, other labs normal."""
    return labs(
        observation(CALCIUM_TOTAL, 11.0, obs_id="ca2"),
        observation(PTH, 95, "pg/mL", obs_id="pth2"),
        *extra,
        without=("ca", "pth", *without),
    )


HIGH_CA_PTH = high_ca_pth()


@pytest.mark.parametrize(
    ("observations", "conditions", "expected"),
    [
        pytest.param(HIGH_CA_PTH, [], True, id="§4 endocrinology referral if high Ca with PTH > ULN"),
        pytest.param(
            labs(),
            [condition(SNOMED, "36348003")],
            True,
            id="§4 endocrinology referral if known hyperparathyroidism without CKD",
        ),
        pytest.param(
            labs(observation(PTH, 95, "pg/mL", obs_id="pth2"), without=["pth"]),
            [condition(SNOMED, "66931009")],
            False,
            id="§6.7 a hypercalcaemia condition alone is not a high calcium",
        ),
        pytest.param(
            HIGH_CA_PTH,
            [condition(SNOMED, "433144002")],
            False,
            id="§6.7 no endocrinology referral with a CKD G3 condition",
        ),
        pytest.param(
            labs(),
            [condition(SNOMED, "36348003"), condition(ICD10CM, "Z99.2", cond_id="c2")],
            False,
            id="§6.7 no endocrinology referral with dialysis",
        ),
        pytest.param(
            high_ca_pth(egfr(50), without=("egfr",)),
            [],
            False,
            id="§6.7 no endocrinology referral with a recent eGFR < 60",
        ),
        pytest.param(
            HIGH_CA_PTH,
            [condition(SNOMED, "431856006")],
            True,
            id="§6.12 a CKD G1-G2 condition does not block the referral",
        ),
        pytest.param(
            high_ca_pth(observation(CREATININE, 2.5, obs_id="cr2"), without=("egfr", "cr")),
            [],
            False,
            id="§6.12 a computed eGFR < 60 blocks the referral",
        ),
        pytest.param(
            labs(
                observation(CALCIUM_TOTAL, 11.0, obs_id="ca2"),
                observation(CALCIUM_IONIZED, 1.2, "mmol/L", obs_id="ica"),
                observation(PTH, 95, "pg/mL", obs_id="pth2"),
                without=["ca", "pth"],
            ),
            [],
            False,
            id="§6.12 recent calcium above the ULN is the chosen value (ionized first)",
        ),
    ],
)
def test_endocrinology_referral(
    observations: list[dict[str, Any]], conditions: list[dict[str, Any]], expected: bool
) -> None:
    evaluation = run(observations=observations, conditions=conditions)
    assert outcome(evaluation, META).fired
    assert ("referral-endocrinology" in suggested(evaluation, META)) is expected


def test_referral_not_suggested_when_referral_ordered() -> None:
    """§6.36 a referral order covers the same specialty."""
    evaluation = run(
        observations=labs(egfr(25), without=["egfr"]), orders=[service_request((SNOMED, "306125004"))]
    )
    assert "referral-nephrology" not in suggested(evaluation, META)
    assert outcome(evaluation, META).fired


def test_fires_when_every_suggestion_withheld() -> None:
    """§6.13 CalcMetabolicAbnormal still fires (and shows) when every suggestion is filtered out."""
    evaluation = run(observations=labs(egfr(45), without=["egfr"]))
    rule = outcome(evaluation, META)
    assert rule.fired and rule.shows_card and rule.suggestions == ()
    assert rule.selection_behavior is None


# ------------------------------------------------------------------ children (§5, §6.10, §6.17)


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.6, obs_id="ca2"), without=["ca"]),
            False,
            id="§5 children: adult default ULN not applied",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.6, high=10.2, obs_id="ca2"), without=["ca"]),
            True,
            id="§5 children: the Observation's own reference range counts",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 10.3, interpretation="H", obs_id="ca2"), without=["ca"]),
            True,
            id="§5 children: interpretation H counts as abnormal",
        ),
        pytest.param(
            labs(observation(PHOSPHATE, 6.0, interpretation="HH", obs_id="p2"), without=["phos"]),
            True,
            id="§5 children: interpretation HH counts as abnormal",
        ),
        pytest.param(
            labs(observation(CREATININE, 2.5, obs_id="cr2"), without=["egfr", "cr"]),
            False,
            id="§5 children: eGFR is never computed",
        ),
        pytest.param(
            labs(egfr(50), without=["egfr"]), True, id="§6.10 children: a recent measured eGFR < 60 triggers"
        ),
        pytest.param(
            labs(
                observation(CALCIUM_TOTAL, 10.2, obs_id="ca2"),
                observation(ALBUMIN, 3.0, "g/dL", obs_id="alb2"),
                without=["ca", "alb"],
            ),
            False,
            id="§6.17 children: corrected calcium without the total's own range does not trigger",
        ),
    ],
)
def test_children(observations: list[dict[str, Any]], expected: bool) -> None:
    evaluation = run(observations=observations, birth_date=CHILD_BIRTH)
    assert evaluation.is_child
    assert outcome(evaluation, META).fired is expected


def test_child_other_rules_unchanged() -> None:
    """§5 all other rules are unchanged for children (red flags here)."""
    evaluation = run("Soft tissue calcification 6 cm in the calf.", birth_date=CHILD_BIRTH)
    assert outcome(evaluation, "CalcRedFlags").fired


def test_unknown_age_uses_adult_thresholds_and_no_computed_egfr() -> None:
    """§1 unknown age → adult thresholds, no computed eGFR."""
    high = run(
        observations=labs(observation(CALCIUM_TOTAL, 10.6, obs_id="ca2"), without=["ca"]), birth_date=None
    )
    assert not high.is_child and outcome(high, META).fired
    creat = run(
        observations=labs(observation(CREATININE, 2.5, obs_id="cr2"), without=["egfr", "cr"]), birth_date=None
    )
    assert creat.labs.egfr is None and not outcome(creat, META).fired
