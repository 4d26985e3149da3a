"""§4.1 suspected mechanism; §4 "no finding / negated / resolved only / out of scope → no cards";
§1 scope; §2 assertion (as it reaches the rules)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.clinical.builders import SNOMED, condition
from tests.unit.rules.scenario import PLAIN, labs, rendered, run

# ------------------------------------------------------------------ §4.1


@pytest.mark.parametrize(
    ("text", "conditions", "observations", "expected"),
    [
        pytest.param(
            PLAIN,
            [condition(SNOMED, "433144002")],
            None,
            {"metastatic"},
            id="§4.1 metastatic if CalcMetabolicAbnormal fires",
        ),
        pytest.param(
            "HISTORY: Fall with trauma to the calf.\nIMPRESSION: " + PLAIN,
            [],
            None,
            {"dystrophic"},
            id="§4.1 dystrophic: trauma history",
        ),
        pytest.param(
            "HISTORY: Knee surgery last year.\nIMPRESSION: " + PLAIN,
            [],
            None,
            {"dystrophic"},
            id="§4.1 dystrophic: surgery history",
        ),
        pytest.param(
            "HISTORY: Haematoma of the calf.\nIMPRESSION: " + PLAIN,
            [],
            None,
            {"dystrophic"},
            id="§4.1 dystrophic: haematoma history",
        ),
        pytest.param(
            "Soft tissue calcification with an associated soft tissue mass in the calf.",
            [],
            None,
            {"dystrophic"},
            id="§4.1 dystrophic: associated mass",
        ),
        pytest.param(
            "HISTORY: Cellulitis of the leg.\nIMPRESSION: " + PLAIN,
            [],
            None,
            {"dystrophic"},
            id="§4.1 dystrophic: inflammation in the report",
        ),
        pytest.param(
            PLAIN,
            [condition(SNOMED, "128045006")],
            None,
            {"dystrophic"},
            id="§6.34 dystrophic: an active inflammation Condition",
        ),
        pytest.param(
            PLAIN,
            [condition(SNOMED, "125602001", onsetDateTime="2026-11-01T00:00:00+00:00")],
            None,
            {"dystrophic"},
            id="§6.34 dystrophic: an active recent leg-injury Condition",
        ),
        pytest.param(
            "HISTORY: Calcium gluconate extravasation at the ankle.\nIMPRESSION: " + PLAIN,
            [],
            None,
            {"iatrogenic"},
            id="§4.1 iatrogenic: calcium-containing injection/extravasation",
        ),
        pytest.param(
            PLAIN, [], None, {"idiopathic"}, id="§4.1 idiopathic: core labs recent and normal, none above"
        ),
        pytest.param(
            PLAIN,
            [],
            labs(without=["phos"]),
            {"undetermined"},
            id="§4.1 undetermined otherwise (core lab missing)",
        ),
        pytest.param(
            "HISTORY: Fracture of the tibia.\nIMPRESSION: " + PLAIN,
            [condition(SNOMED, "46177005")],
            None,
            {"metastatic", "dystrophic"},
            id="§4.1 more than one may apply",
        ),
    ],
)
def test_mechanism(
    text: str, conditions: list[dict[str, Any]], observations: list[dict[str, Any]] | None, expected: set[str]
) -> None:
    presented = text if "\n" in text else None
    evaluation = run(
        None if presented else text, observations=observations, conditions=conditions, presented=presented
    )
    assert {m.value for m in evaluation.mechanisms} == expected


# ------------------------------------------------------------------ no cards (§4, §1, §2)


@pytest.mark.parametrize(
    ("text", "fields", "outcome"),
    [
        pytest.param("No soft tissue calcification.", {}, "no-finding", id="§4 negated only → no cards"),
        pytest.param(
            "The soft tissue calcification has resolved.", {}, "no-finding", id="§4 resolved only → no cards"
        ),
        pytest.param("Normal radiograph of the leg.", {}, "no-finding", id="§4 no finding → no cards"),
        pytest.param(
            PLAIN,
            {"code": "XR CHEST", "conclusion": "Soft tissue calcification in the axilla."},
            "out-of-scope",
            id="§1 other regions → no cards in v1",
        ),
        pytest.param(PLAIN, {"status": "preliminary"}, "out-of-scope", id="§1 status preliminary → no cards"),
        pytest.param(PLAIN, {"status": "registered"}, "out-of-scope", id="§1 status registered → no cards"),
        pytest.param(PLAIN, {"status": "cancelled"}, "out-of-scope", id="§1 status cancelled → no cards"),
        pytest.param(
            PLAIN, {"status": "entered-in-error"}, "out-of-scope", id="§1 status entered-in-error → no cards"
        ),
        pytest.param(PLAIN, {"status": "partial"}, "out-of-scope", id="§6.22 status partial → no cards"),
        pytest.param(
            PLAIN,
            {"category": [{"coding": [{"code": "LAB"}]}]},
            "out-of-scope",
            id="§1 not a radiology report → no cards",
        ),
        pytest.param(
            None,
            {
                "code": "XR CHEST",
                "presented": "HISTORY: Leg swelling.\nIMPRESSION: Soft tissue calcification in the axilla.",
            },
            "out-of-scope",
            id="§6.23 lower-limb words in HISTORY alone do not put a report in scope",
        ),
    ],
)
def test_no_cards(text: str | None, fields: dict[str, Any], outcome: str) -> None:
    conclusion = fields.pop("conclusion", text)
    evaluation = run(conclusion, **fields)
    assert evaluation.outcome == outcome
    assert rendered(evaluation) == []
    assert evaluation.outcome_reason


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        pytest.param(PLAIN, {"status": "final"}, id="§1 status final is evaluated"),
        pytest.param(PLAIN, {"status": "amended"}, id="§1 status amended is evaluated"),
        pytest.param(PLAIN, {"status": "corrected"}, id="§1 status corrected is evaluated"),
        pytest.param(PLAIN, {"status": "appended"}, id="§6.22 status appended is evaluated like amended"),
        pytest.param(
            "Soft tissue calcification in the proximal thigh.",
            {"code": "XR PELVIS"},
            id="§1 a pelvis exam whose finding lies in the proximal thigh is in scope",
        ),
        pytest.param(
            "Soft tissue calcification lateral to the greater trochanter.",
            {"code": "XR PELVIS"},
            id="§6.19 greater trochanter soft tissues are in scope",
        ),
        pytest.param("Soft tissue calcification may represent myositis.", {}, id="§2 possible counts"),
        pytest.param("Soft tissue calcification in the calf, unchanged.", {}, id="§2 unchanged is present"),
        pytest.param(
            "No change in the soft tissue calcification of the calf.",
            {},
            id="§2 pseudo-negation 'no change' does not negate",
        ),
        pytest.param("?ST calcification R calf.", {}, id="§6.32 '?' before the finding makes it possible"),
    ],
)
def test_evaluated(text: str, fields: dict[str, Any]) -> None:
    evaluation = run(text, **fields)
    assert evaluation.scope.evaluated and evaluation.reading.finding_counts
    assert evaluation.outcome == "cards"


def test_addendum_wins() -> None:
    """§6.18 / §6.38 the addendum that negates the finding holds."""
    text = (
        "FINDINGS: Soft tissue calcification in the calf.\nIMPRESSION: Soft tissue calcification.\n"
        "ADDENDUM: On review there is no soft tissue calcification; the density is a skin fold."
    )
    evaluation = run(None, presented=text)
    assert evaluation.outcome == "no-finding"
