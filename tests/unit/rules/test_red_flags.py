"""§4 CalcRedFlags: each red flag, the indicator, the suggestions; §6.2, §6.3, §6.5, §6.9,
§6.15, §6.16, §6.30, §6.35, §6.39."""

from __future__ import annotations

import pytest

from tests.unit.rules.scenario import fired, outcome, run, suggested

RED = "CalcRedFlags"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            "Soft tissue calcification measuring 6.2 cm in the calf.",
            "size 6.2 cm",
            id="§4 CalcRedFlags red flag: size > 5 cm",
        ),
        pytest.param(
            "Soft tissue calcification measuring 52 mm in the calf.",
            "size 5.2 cm",
            id="§4 CalcRedFlags red flag: size > 5 cm given in mm",
        ),
        pytest.param(
            "Calcification deep to the fascia of the calf.",
            "deep to the fascia",
            id="§4 CalcRedFlags red flag: deep",
        ),
        pytest.param(
            "Soft tissue calcification with an associated soft tissue mass in the calf.",
            "associated soft-tissue mass",
            id="§4 CalcRedFlags red flag: associated mass",
        ),
        pytest.param(
            "Soft tissue calcification in the calf with cortical erosion of the tibia.",
            "bone involvement",
            id="§4 CalcRedFlags red flag: bone involvement",
        ),
        pytest.param(
            "Soft tissue calcification in the calf, enlarging since the prior study.",
            "growth",
            id="§4 CalcRedFlags red flag: growth",
        ),
        pytest.param(
            "Soft tissue calcification in the calf.",
            "painful mass",
            id="§4 CalcRedFlags red flag: painful mass",
        ),
        pytest.param(
            "Stippled soft tissue calcification in the calf.",
            "concerning pattern",
            id="§4 CalcRedFlags red flag: concerning pattern",
        ),
        pytest.param(
            "Soft tissue calcification in the calf, suspicious for sarcoma.",
            "malignancy",
            id="§6.3 suspected malignancy is a red flag",
        ),
        pytest.param(
            "Soft tissue calcification in the calf; malignancy is not excluded.",
            "malignancy",
            id="§6.3 possible malignancy (not excluded) is a red flag",
        ),
        pytest.param(
            "Soft tissue calcification in the calf, which may represent a sarcoma.",
            "malignancy",
            id="§6.30 uncertainty cue makes a malignancy word count",
        ),
    ],
)
def test_each_red_flag_fires(text: str, reason: str) -> None:
    history = {"HISTORY": "Tender lump in the calf."} if "painful" in reason else {}
    presented = f"HISTORY: {history['HISTORY']}\nIMPRESSION: {text}" if history else None
    evaluation = run(text if not presented else None, presented=presented)
    rule = outcome(evaluation, RED)
    assert rule.fired, rule.reasons
    assert any(reason in r for r in rule.reasons), rule.reasons
    assert "CalcFurtherImaging" not in fired(evaluation)  # NO red flag is its condition


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "Soft tissue calcification 4.9 cm in the calf.", id="§4 CalcRedFlags size 4.9 cm is not > 5 cm"
        ),
        pytest.param(
            "Soft tissue calcification 5 cm in the calf.",
            id="§4 CalcRedFlags size exactly 5 cm is not > 5 cm",
        ),
        pytest.param(
            "Soft tissue calcification in the calf. No periosteal reaction.",
            id="§6.2 negated periosteal reaction does not count",
        ),
        pytest.param(
            "Soft tissue calcification in the calf. No cortical erosion.",
            id="§6.2 negated cortical erosion does not count",
        ),
        pytest.param(
            "Soft tissue calcification in the calf. No aggressive features.",
            id="§6.2 no aggressive features does not count",
        ),
        pytest.param(
            "Soft tissue calcification in the calf, not enlarging.", id="§6.2 not enlarging does not count"
        ),
        pytest.param(
            "Soft tissue calcification in the calf, superficial, not deep.",
            id="§6.2 superficial, not deep does not count",
        ),
        pytest.param(
            "Soft tissue calcification in the calf, no associated mass.", id="§2 no mass is not a mass"
        ),
        pytest.param(
            "Soft tissue calcification in the calf. No evidence of malignancy.",
            id="§6.3 negated malignancy is not a red flag",
        ),
        pytest.param(
            "Calcified lipoma in the subcutaneous fat of the calf.",
            id="§6.16 benign tumour named is not suspected malignancy",
        ),
        pytest.param(
            "Soft tissue calcification in the calf. Refer to the sarcoma team.",
            id="§6.30 a service name is not a suspicion of malignancy",
        ),
        pytest.param(
            "Soft tissue calcification in the calf, in keeping with metastatic calcification.",
            id="§6.30 metastatic calcification (mechanism) is not malignancy",
        ),
    ],
)
def test_no_red_flag(text: str) -> None:
    evaluation = run(text)
    assert not outcome(evaluation, RED).fired, outcome(evaluation, RED).reasons


def test_pain_alone_is_not_a_painful_mass() -> None:
    """§2 painful mass: pain alone is the usual X-ray indication and does not count (§6.25)."""
    evaluation = run(
        None, presented="HISTORY: Calf pain.\nIMPRESSION: Soft tissue calcification in the calf."
    )
    assert not outcome(evaluation, RED).fired


def test_calcified_mass_counts_as_associated_mass() -> None:
    """§6.16: a calcified mass still counts as an associated mass."""
    rule = outcome(run("Calcified mass in the calf, likely a haemangioma."), RED)
    assert rule.fired and "associated soft-tissue mass" in rule.reasons


def test_red_flags_apply_to_type_b() -> None:
    """§6.5 all other red flags still apply to type B (here: size)."""
    evaluation = run("Phleboliths in the calf; one calcification measures 6 cm.")
    assert outcome(evaluation, RED).fired


def test_intrinsic_location_is_not_depth() -> None:
    """§6.5 'intramuscular' myositis ossificans is not deep."""
    evaluation = run(
        None,
        presented="HISTORY: Fall with a thigh haematoma.\n"
        "IMPRESSION: Intramuscular myositis ossificans in the thigh.",
    )
    assert not outcome(evaluation, RED).fired


# ------------------------------------------------------------------ indicator


@pytest.mark.parametrize(
    ("text", "indicator"),
    [
        pytest.param(
            "Soft tissue calcification in the calf with periosteal reaction of the tibia.",
            "critical",
            id="§4 CalcRedFlags critical: bone involvement",
        ),
        pytest.param(
            "Soft tissue calcification with an associated soft tissue mass measuring 7 cm in the calf.",
            "critical",
            id="§4 CalcRedFlags critical: mass with size > 5 cm",
        ),
        pytest.param(
            "Soft tissue calcification with an associated soft tissue mass deep to the fascia of the calf.",
            "critical",
            id="§4 CalcRedFlags critical: mass and deep",
        ),
        pytest.param(
            "Soft tissue calcification with an associated soft tissue mass in the calf.",
            "warning",
            id="§4 CalcRedFlags warning: mass alone",
        ),
        pytest.param(
            "Soft tissue calcification 7 cm deep to the fascia of the calf.",
            "warning",
            id="§4 CalcRedFlags warning: size and deep without a mass",
        ),
        pytest.param(
            "Stippled soft tissue calcification in the calf.",
            "warning",
            id="§4 CalcRedFlags warning: concerning pattern",
        ),
    ],
)
def test_indicator(text: str, indicator: str) -> None:
    rule = outcome(run(text), RED)
    assert rule.fired and rule.indicator == indicator


# ------------------------------------------------------------------ suggestions


def test_suggestions_mri_then_referral_any() -> None:
    """§4 CalcRedFlags suggestions: MRI, sarcoma referral; selectionBehavior any; §6.39 MRI first."""
    rule = outcome(run("Soft tissue calcification 6 cm in the left calf."), RED)
    assert [s.test for s in rule.suggestions] == ["mri", "referral-sarcoma"]
    assert rule.selection_behavior == "any"
    assert [s.recommended for s in rule.suggestions] == [True, False]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "Ossific density 6 cm in the left calf.", id="§6.35 CT when the lesion is called ossific"
        ),
        pytest.param(
            "Soft tissue calcification 6 cm in the calf, calcified and ossified.",
            id="§6.35 CT when both calcified and ossified",
        ),
        pytest.param(
            "Mineralised soft tissue lesion 6 cm in the calf.",
            id="§6.35 CT when mineralised without saying which",
        ),
        pytest.param(
            "Soft tissue density 6 cm in the calf, ?calcification ?ossification.",
            id="§6.35 CT when a ? is put on its nature",
        ),
    ],
)
def test_ct_when_nature_unclear(text: str) -> None:
    evaluation = run(text)
    assert outcome(evaluation, RED).fired, outcome(evaluation, RED).reasons
    assert suggested(evaluation, RED)[-1] == "ct"


def test_no_ct_when_calcification_is_clear() -> None:
    """§6.35 the CT is not suggested when the lesion is plainly a calcification."""
    assert "ct" not in suggested(run("Soft tissue calcification 6 cm in the calf."), RED)


@pytest.mark.parametrize(
    ("code", "text", "side"),
    [
        pytest.param(
            "XR LOWER LEG",
            "Soft tissue calcification 6 cm in the left calf.",
            "left",
            id="§6.9 the finding's side (left)",
        ),
        pytest.param(
            "XR LOWER LEG",
            "Soft tissue calcification 6 cm in the right calf.",
            "right",
            id="§6.9 the finding's side (right)",
        ),
        pytest.param(
            "XR LEFT LOWER LEG",
            "Soft tissue calcification 6 cm in the calf.",
            "left",
            id="§6.9 a finding without a side takes the exam's side",
        ),
        pytest.param(
            "XR LEFT LOWER LEG",
            "Soft tissue calcification 6 cm in the right calf.",
            "right",
            id="§6.9 the finding's side wins over the exam's",
        ),
        pytest.param(
            "XR BOTH LOWER LEGS",
            "Bilateral soft tissue calcification 6 cm in the calves.",
            "bilateral",
            id="§6.9 bilateral takes the bilateral code",
        ),
        pytest.param(
            "XR TIBIA FIBULA",
            "Soft tissue calcification 6 cm in the left and right calves.",
            "bilateral",
            id="§6.15 findings described left and right are bilateral",
        ),
        pytest.param(
            "XR LOWER LEG", "Soft tissue calcification 6 cm in the calf.", "unknown", id="§6.9 no side at all"
        ),
    ],
)
def test_laterality_of_suggestions(code: str, text: str, side: str) -> None:
    rule = outcome(run(text, code=code), RED)
    assert {s.laterality.value for s in rule.suggestions} == {side}
