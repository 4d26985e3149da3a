"""§4 CalcMetabolicWorkup: missing core labs, albumin, PTH for a systemic cause, never a test
already ordered; §3 orders; §6.1, §6.6, §6.8, §6.13, §6.29, §6.36."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.clinical.builders import (
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
    condition,
    observation,
    service_request,
)
from tests.unit.rules.scenario import PHLEBOLITHS, PLAIN, labs, outcome, run, suggested

WORK = "CalcMetabolicWorkup"


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        pytest.param(labs(without=["ca"]), ["calcium"], id="§4 CalcMetabolicWorkup calcium missing"),
        pytest.param(labs(without=["phos"]), ["phosphate"], id="§4 CalcMetabolicWorkup phosphate missing"),
        pytest.param(
            labs(without=["cr", "egfr"]),
            ["creatinine"],
            id="§6.8 missing creatinine-or-eGFR is suggested as creatinine (2160-0)",
        ),
        pytest.param(
            labs(without=["ca", "alb"]),
            ["calcium", "albumin"],
            id="§4 CalcMetabolicWorkup albumin if not recent and calcium is suggested",
        ),
        pytest.param(
            labs(observation(CALCIUM_TOTAL, 9.4, days=120, obs_id="ca2"), without=["ca"]),
            ["calcium"],
            id="§6.1 a stale core lab counts as missing for the work-up",
        ),
        pytest.param(
            labs(observation(PHOSPHATE, 3.5, "mg", obs_id="p2"), without=["phos"]),
            ["phosphate"],
            id="§6.1 a core lab in an unknown unit counts as missing",
        ),
        pytest.param(
            labs(without=["ca", "phos", "cr", "egfr", "alb"]),
            ["calcium", "phosphate", "creatinine", "albumin"],
            id="§4 CalcMetabolicWorkup one ServiceRequest per missing core lab",
        ),
    ],
)
def test_missing_core_labs(observations: list[dict[str, Any]], expected: list[str]) -> None:
    rule = outcome(run(observations=observations), WORK)
    assert rule.fired and rule.indicator == "info"
    assert [s.test for s in rule.suggestions] == expected
    assert rule.selection_behavior == "any"
    assert rule.suggestions[0].recommended and not any(s.recommended for s in rule.suggestions[1:])


@pytest.mark.parametrize(
    "observations",
    [
        pytest.param(labs(), id="§4 CalcMetabolicWorkup does not fire when every core lab is recent"),
        pytest.param(
            labs(without=["cr"]), id="§4 CalcMetabolicWorkup a recent eGFR alone meets the renal core lab"
        ),
        pytest.param(
            labs(without=["egfr"]),
            id="§4 CalcMetabolicWorkup a recent creatinine alone meets the renal core lab",
        ),
        pytest.param(
            labs(observation(CALCIUM_IONIZED, 1.2, "mmol/L", obs_id="ica"), without=["ca"]),
            id="§6.36 an ionized calcium meets the calcium core lab",
        ),
        pytest.param(
            labs(observation(CALCIUM_CORRECTED_MG, 9.4, obs_id="cca"), without=["ca"]),
            id="§6.36 a reported corrected calcium meets the calcium core lab",
        ),
    ],
)
def test_core_labs_met(observations: list[dict[str, Any]]) -> None:
    assert not outcome(run(observations=observations), WORK).fired


def test_not_for_type_b() -> None:
    """§4 CalcMetabolicWorkup needs type N."""
    assert not outcome(run(PHLEBOLITHS, observations=labs(without=["ca"])), WORK).fired


@pytest.mark.parametrize(
    ("text", "conditions"),
    [
        pytest.param(
            "Multiple soft tissue calcifications in the calf.",
            [],
            id="§4 CalcMetabolicWorkup PTH when systemic: multiplicity",
        ),
        pytest.param(
            "Periarticular soft tissue calcification at the knee.",
            [],
            id="§4 CalcMetabolicWorkup PTH when systemic: periarticular",
        ),
        pytest.param(
            PLAIN,
            [condition(SNOMED, "431856006")],
            id="§6.6 any CKD condition (G2) is CKD history for the work-up PTH",
        ),
        pytest.param(PLAIN, [condition(ICD10CM, "Z99.2")], id="§6.29 a dialysis condition is CKD history"),
        pytest.param(
            "HISTORY: CKD.\nIMPRESSION: Soft tissue calcification in the calf.",
            [],
            id="§6.29 the report naming CKD as history counts",
        ),
        pytest.param(
            "HISTORY: Previous renal failure on dialysis.\nIMPRESSION: Soft tissue calcification.",
            [],
            id="§6.29 the report naming past dialysis counts",
        ),
    ],
)
def test_pth_when_systemic_cause(text: str, conditions: list[dict[str, Any]]) -> None:
    presented = text if "\n" in text else None
    evaluation = run(
        None if presented else text,
        observations=labs(without=["phos", "pth"]),
        conditions=conditions,
        presented=presented,
    )
    assert suggested(evaluation, WORK) == ["phosphate", "pth"]


@pytest.mark.parametrize(
    ("text", "observations"),
    [
        pytest.param(
            PLAIN, labs(without=["phos", "pth"]), id="§4 CalcMetabolicWorkup no PTH without a systemic cause"
        ),
        pytest.param(
            "Multiple soft tissue calcifications in the calf.",
            labs(without=["phos"]),
            id="§4 CalcMetabolicWorkup no PTH when a recent PTH exists",
        ),
        pytest.param(
            "HISTORY: No history of CKD.\nIMPRESSION: Soft tissue calcification in the calf.",
            labs(without=["phos", "pth"]),
            id="§6.29 negated CKD history does not count",
        ),
        pytest.param(
            "Soft tissue calcification in the left calf, with bilateral knee osteoarthritis.",
            labs(without=["phos", "pth"]),
            id="§6.26 bilateral about something else is not multiplicity",
        ),
        pytest.param(
            "Two views. Soft tissue calcification in the calf.",
            labs(without=["phos", "pth"]),
            id="§6.26 'two views' is not a count of calcifications",
        ),
    ],
)
def test_no_pth(text: str, observations: list[dict[str, Any]]) -> None:
    presented = text if "\n" in text else None
    evaluation = run(None if presented else text, observations=observations, presented=presented)
    assert suggested(evaluation, WORK) == ["phosphate"]


# ------------------------------------------------------------------ never a test already ordered


@pytest.mark.parametrize(
    ("order", "withheld"),
    [
        pytest.param(
            service_request((LOINC, CALCIUM_TOTAL)),
            "calcium",
            id="§4 CalcMetabolicWorkup never a test already ordered",
        ),
        pytest.param(
            service_request((LOINC, CALCIUM_IONIZED)),
            "calcium",
            id="§6.36 an ionized calcium order covers calcium",
        ),
        pytest.param(
            service_request((LOINC, EGFR)), "creatinine", id="§6.36 an eGFR order covers the renal core lab"
        ),
        pytest.param(
            service_request((LOINC, CREATININE), status="draft"),
            "creatinine",
            id="§3 a draft order counts as open",
        ),
        pytest.param(
            service_request((LOINC, CALCIUM_TOTAL), authored_days_ago=None),
            "calcium",
            id="§6.8 an active order without authoredOn counts as open",
        ),
        pytest.param(
            service_request((LOINC, PHOSPHATE), authored_days_ago=29),
            "phosphate",
            id="§6.8 ordered within 30 days counts from authoredOn",
        ),
    ],
)
def test_already_ordered(order: dict[str, Any], withheld: str) -> None:
    evaluation = run(observations=labs(without=["ca", "phos", "cr", "egfr"]), orders=[order])
    rule = outcome(evaluation, WORK)
    assert withheld not in [s.test for s in rule.suggestions]
    assert withheld in [w.test for w in rule.withheld]
    assert rule.shows_card


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(
            service_request((LOINC, CALCIUM_TOTAL), authored_days_ago=31),
            id="§3 an order older than 30 days is not open",
        ),
        pytest.param(
            service_request((LOINC, CALCIUM_TOTAL), status="completed"), id="§3 a completed order is not open"
        ),
        pytest.param(service_request((LOINC, PTH)), id="§6.36 a PTH order does not cover calcium"),
    ],
)
def test_not_already_ordered(order: dict[str, Any]) -> None:
    evaluation = run(observations=labs(without=["ca"]), orders=[order])
    assert "calcium" in suggested(evaluation, WORK)


def test_no_albumin_when_calcium_already_ordered() -> None:
    """§4 CalcMetabolicWorkup albumin only when calcium is suggested."""
    evaluation = run(
        observations=labs(without=["ca", "alb", "phos"]), orders=[service_request((LOINC, CALCIUM_TOTAL))]
    )
    assert suggested(evaluation, WORK) == ["phosphate"]


def test_all_ordered_is_suppressed() -> None:
    """§6.13 CalcMetabolicWorkup whose every suggestion is ordered shows no card; recorded as suppressed."""
    evaluation = run(observations=labs(without=["phos"]), orders=[service_request((LOINC, PHOSPHATE))])
    rule = outcome(evaluation, WORK)
    assert rule.fired and rule.suppressed and not rule.shows_card
    assert evaluation.outcome == "cards"  # CalcFurtherImaging still shows
