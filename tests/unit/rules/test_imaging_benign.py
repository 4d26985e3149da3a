"""§4 CalcFurtherImaging and CalcBenignPattern; §2 type B vs type N; §6.4, §6.5, §6.14, §6.20,
§6.24, §6.34, §6.35."""

from __future__ import annotations

import pytest

from tests.unit.clinical.builders import SNOMED, condition, service_request
from tests.unit.rules.scenario import PHLEBOLITHS, PLAIN, fired, labs, outcome, run, shown, suggested

IMAGING, BENIGN = "CalcFurtherImaging", "CalcBenignPattern"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PLAIN, id="§4 CalcFurtherImaging US when depth unknown"),
        pytest.param(
            "Subcutaneous calcification in the calf.", id="§4 CalcFurtherImaging US when superficial"
        ),
    ],
)
def test_further_imaging(text: str) -> None:
    rule = outcome(run(text), IMAGING)
    assert rule.fired and rule.indicator == "info"
    assert [s.test for s in rule.suggestions] == ["us", "ct"]
    assert rule.selection_behavior == "at-most-one"
    assert [s.recommended for s in rule.suggestions] == [True, False]


def test_ct_always_one_of_the_two() -> None:
    """§6.35 in CalcFurtherImaging the CT is always one of the two choices."""
    assert "ct" in suggested(run("Subcutaneous calcification in the calf."), IMAGING)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PHLEBOLITHS, id="§4 CalcFurtherImaging not for type B"),
        pytest.param(
            "Soft tissue calcification 6 cm in the calf.", id="§4 CalcFurtherImaging not with a red flag"
        ),
    ],
)
def test_no_further_imaging(text: str) -> None:
    assert not outcome(run(text), IMAGING).fired


def test_imaging_already_ordered() -> None:
    """§4 never a test already ordered (ultrasound order withholds the US)."""
    evaluation = run(orders=[service_request(("http://loinc.org", "30709-0"))])
    assert suggested(evaluation, IMAGING) == ["ct"]


# ------------------------------------------------------------------ type B (§2) and CalcBenignPattern


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PHLEBOLITHS, id="§2 type B: phleboliths"),
        pytest.param(
            "Vascular calcification of the popliteal artery.", id="§2 type B: vascular calcification"
        ),
        pytest.param("Calcific tendinitis at the Achilles insertion.", id="§2 type B: calcific tendinitis"),
        pytest.param("Chondrocalcinosis of the knee.", id="§2 type B: chondrocalcinosis"),
        pytest.param(
            "HISTORY: Fracture of the femur.\nIMPRESSION: Heterotopic ossification of the thigh.",
            id="§2 type B: heterotopic ossification with a trauma history",
        ),
        pytest.param(
            "Small rounded densities in the calf, likely phleboliths.",
            id="§6.20 one lesion identified as a benign entity in the same sentence",
        ),
        pytest.param(
            "Peritrochanteric calcification at the gluteus medius tendon insertion.",
            id="§6.19 peritrochanteric calcification at a tendon insertion is calcific tendinitis",
        ),
        pytest.param(
            "Amorphous calcific tendinitis at the Achilles insertion.",
            id="§6.24 amorphous calcific tendinitis is not a concerning pattern",
        ),
    ],
)
def test_benign_pattern(text: str) -> None:
    presented = text if "\n" in text else None
    evaluation = run(None if presented else text, presented=presented)
    rule = outcome(evaluation, BENIGN)
    assert rule.fired and rule.indicator == "info" and rule.suggestions == (), rule.reasons
    assert fired(evaluation) == {BENIGN}


def test_benign_pattern_is_silent_by_default() -> None:
    """§4 CalcBenignPattern default status silent: evaluated, not returned."""
    evaluation = run(PHLEBOLITHS)
    rule = outcome(evaluation, BENIGN)
    assert rule.status == "silent" and rule.fired and not rule.shows_card
    assert shown(evaluation) == set() and evaluation.outcome == "silent"


@pytest.mark.parametrize(
    ("text", "conditions", "observations"),
    [
        pytest.param(
            "Phleboliths in the calf. Stippled calcification in the calf.",
            [],
            None,
            id="§6.4 mixed report is type N",
        ),
        pytest.param(
            "Heterotopic ossification of the thigh.",
            [],
            None,
            id="§2 heterotopic ossification without trauma/surgery history is type N",
        ),
        pytest.param(
            "Amorphous tumoral calcinosis in the calf.",
            [],
            None,
            id="§6.24 amorphous tumoral calcinosis stays concerning",
        ),
        pytest.param(
            PHLEBOLITHS,
            [condition(SNOMED, "46177005")],
            None,
            id="§4 CalcBenignPattern not with a metabolic abnormality",
        ),
        pytest.param(
            "Phleboliths in the calf; the largest calcification 6 cm.",
            [],
            None,
            id="§4 CalcBenignPattern not with a red flag",
        ),
    ],
)
def test_not_benign_pattern(text: str, conditions: list[dict[str, object]], observations: None) -> None:
    evaluation = run(text, conditions=conditions, observations=observations)
    assert not outcome(evaluation, BENIGN).fired


def test_injury_condition_makes_ossification_type_b() -> None:
    """§6.34 an active recent leg-injury Condition supplies the trauma history."""
    evaluation = run(
        "Heterotopic ossification of the thigh.",
        conditions=[condition(SNOMED, "7523003", onsetDateTime="2026-10-01T00:00:00+00:00")],
    )
    assert outcome(evaluation, BENIGN).fired and not outcome(evaluation, IMAGING).fired


def test_intrinsic_location_of_type_b_is_not_deep() -> None:
    """§6.5 'intratendinous' for calcific tendinitis does not make the finding deep."""
    evaluation = run("Intratendinous calcific tendinitis of the quadriceps tendon.")
    assert not outcome(evaluation, "CalcRedFlags").fired and outcome(evaluation, BENIGN).fired


def test_coded_finding_alone_has_unknown_depth() -> None:
    """§6.5 a coded finding alone (446993003 calcification of muscle) has unknown depth."""
    coded = {"conclusionCode": [{"coding": [{"system": SNOMED, "code": "446993003"}]}]}
    evaluation = run(None, **coded)
    assert evaluation.reading.features.depth.value == "unknown"
    assert suggested(evaluation, IMAGING) == ["us", "ct"]


def test_plural_phleboliths_are_not_multiplicity() -> None:
    """§6.14 plural benign entities (phleboliths) are not multiplicity."""
    evaluation = run("Numerous phleboliths in the calf.", observations=labs(without=["pth"]))
    assert not evaluation.reading.features.multiplicity
