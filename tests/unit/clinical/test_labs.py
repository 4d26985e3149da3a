"""The lab panel: §3 (labs), §5, §6.1, §6.8, §6.10, §6.11, §6.12, §6.17, §6.27, §6.28, §6.36, §6.37."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from cds_service.clinical.evaluation import LabPanel, UnusableLab
from cds_service.clinical.labs import assess_labs
from cds_service.knowledge import Artifact
from tests.unit.clinical.builders import (
    ALBUMIN,
    CALCIUM_CORRECTED_MG,
    CALCIUM_CORRECTED_MMOL,
    CALCIUM_IONIZED,
    CALCIUM_TOTAL,
    CREATININE,
    EGFR,
    LOINC,
    NOW,
    PHOSPHATE,
    PTH,
    VITAMIN_D,
    days_ago,
    observation,
)

ADULT, CHILD = 56, 12


def assess(
    artifact: Artifact,
    *observations: dict[str, Any],
    age: int | None = ADULT,
    sex: str | None = "female",
    now: datetime = NOW,
) -> LabPanel:
    return assess_labs(observations, artifact, now, age, sex)


def reasons(panel: LabPanel) -> dict[str, str]:
    return {lab.analyte: lab.reason for lab in panel.unusable}


# --- §3: statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("final", id="§3 status final is usable"),
        pytest.param("amended", id="§3 status amended is usable"),
        pytest.param("corrected", id="§3 status corrected is usable"),
    ],
)
def test_usable_statuses(artifact: Artifact, status: str) -> None:
    panel = assess(artifact, observation(CALCIUM_TOTAL, 9.5, status=status))
    assert panel.values["calcium-total"].value == 9.5
    assert panel.values["calcium-total"].status == status


def test_preliminary_is_shown_never_used(artifact: Artifact) -> None:
    """§3 preliminary may be shown, never used for a threshold."""
    panel = assess(artifact, observation(CALCIUM_TOTAL, 13.0, status="preliminary", obs_id="ca-p"))
    assert "calcium-total" not in panel.values
    assert panel.calcium is None and not panel.high("calcium")
    assert panel.unusable == (
        UnusableLab("calcium-total", "preliminary", panel.unusable[0].effective, "ca-p", "13.0 mg/dL"),
    )
    assert "calcium" in panel.missing_core


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("entered-in-error", id="§3 entered-in-error is ignored"),
        pytest.param("cancelled", id="§3 cancelled is ignored"),
    ],
)
def test_withdrawn_results_are_ignored(artifact: Artifact, status: str) -> None:
    panel = assess(artifact, observation(CALCIUM_TOTAL, 13.0, status=status))
    assert panel.values == {} and panel.unusable == ()


def test_other_statuses_are_not_usable(artifact: Artifact) -> None:
    panel = assess(artifact, observation(PHOSPHATE, 6.0, status="registered"))
    assert reasons(panel) == {"phosphate": "status 'registered'"}
    no_status = observation(PHOSPHATE, 6.0)
    del no_status["status"]
    assert reasons(assess(artifact, no_status)) == {"phosphate": "no status"}


# --- §3: units ---------------------------------------------------------------------------------


def test_values_are_normalised_to_the_canonical_unit_keeping_the_original(artifact: Artifact) -> None:
    """§3 normalise units (mmol/L to mg/dL), keep what was written."""
    lab = assess(artifact, observation(CALCIUM_TOTAL, 2.5, "mmol/L")).values["calcium-total"]
    assert lab.value == pytest.approx(10.02, abs=0.01)
    assert lab.unit == "mg/dL"
    assert (lab.original_value, lab.original_unit, lab.converted) == (2.5, "mmol/L", True)


@pytest.mark.parametrize(
    ("obs", "reason"),
    [
        pytest.param(
            observation(CALCIUM_TOTAL, 9.5, "mg", obs_id="u"),
            "unknown unit 'mg'",
            id="§3 an unknown unit makes the value unusable, never guessed",
        ),
        pytest.param(
            observation(CALCIUM_TOTAL, None, obs_id="u"),
            "no numeric value",
            id="§3 a result without valueQuantity is unusable",
        ),
        pytest.param(
            observation(CALCIUM_TOTAL, 9.5, obs_id="u", when={}),
            "no date",
            id="a value without a date is unusable (never a value without its date)",
        ),
    ],
)
def test_unusable_values_say_why_and_never_trigger(
    artifact: Artifact, obs: dict[str, Any], reason: str
) -> None:
    panel = assess(artifact, obs)
    assert reasons(panel) == {"calcium-total": reason}
    assert not panel.high("calcium")
    assert "calcium" in panel.missing_core


def test_an_unusable_value_shows_as_written(artifact: Artifact) -> None:
    obs = observation(CALCIUM_TOTAL, None)
    obs["valueString"] = "haemolysed"
    assert assess(artifact, obs).unusable[0].display_value == "haemolysed"


# --- §3: most recent usable value, recency -----------------------------------------------------


def test_the_most_recent_usable_value_is_chosen(artifact: Artifact) -> None:
    """§3 most recent usable value per analyte."""
    panel = assess(
        artifact,
        observation(CALCIUM_TOTAL, 11.0, days=20, obs_id="older"),
        observation(CALCIUM_TOTAL, 9.4, days=2, obs_id="newest"),
        observation(CALCIUM_TOTAL, 12.0, days=1, status="preliminary", obs_id="prelim"),
        observation(CALCIUM_TOTAL, 13.0, days=0.5, status="entered-in-error"),
    )
    assert panel.values["calcium-total"].observation_id == "newest"
    assert [lab.observation_id for lab in panel.unusable] == ["prelim"]


def test_unusable_results_older_than_the_chosen_value_are_superseded(artifact: Artifact) -> None:
    panel = assess(
        artifact,
        observation(CALCIUM_TOTAL, 9.4, days=2),
        observation(CALCIUM_TOTAL, 9.0, "mg", days=10),
    )
    assert panel.unusable == ()


@pytest.mark.parametrize(
    ("when", "expected_day"),
    [
        pytest.param({"effectiveDateTime": days_ago(3)}, 27, id="§3 date from effectiveDateTime"),
        pytest.param(
            {"effectivePeriod": {"start": days_ago(4), "end": days_ago(3)}},
            26,
            id="§3 date from effectivePeriod.start",
        ),
        pytest.param({"issued": days_ago(5)}, 25, id="§3 date from issued when nothing else"),
        pytest.param(
            {"effectiveDateTime": "2026-11-20", "issued": days_ago(1)},
            20,
            id="§3 effectiveDateTime wins over issued (date-only)",
        ),
    ],
)
def test_when_a_value_was_measured(artifact: Artifact, when: dict[str, Any], expected_day: int) -> None:
    lab = assess(artifact, observation(PHOSPHATE, 4.0, when=when)).values["phosphate"]
    assert lab.effective is not None and lab.effective.day == expected_day


@pytest.mark.parametrize(
    ("loinc", "analyte", "unit", "window"),
    [
        pytest.param(CALCIUM_TOTAL, "calcium-total", "mg/dL", 90, id="§3 recent calcium: 90 days"),
        pytest.param(
            CALCIUM_IONIZED, "calcium-ionized", "mmol/L", 90, id="§3 recent ionized calcium: 90 days"
        ),
        pytest.param(PHOSPHATE, "phosphate", "mg/dL", 90, id="§3 recent phosphate: 90 days"),
        pytest.param(CREATININE, "creatinine", "mg/dL", 90, id="§3 recent creatinine: 90 days"),
        pytest.param(EGFR, "egfr", "mL/min/{1.73_m2}", 90, id="§3 recent eGFR: 90 days"),
        pytest.param(ALBUMIN, "albumin", "g/dL", 90, id="§3 recent albumin: 90 days"),
        pytest.param(PTH, "pth", "pg/mL", 365, id="§3 recent PTH: 365 days"),
        pytest.param(VITAMIN_D, "vitamin-d", "ng/mL", 365, id="§3 recent vitamin D: 365 days"),
    ],
)
def test_recency_windows(artifact: Artifact, loinc: str, analyte: str, unit: str, window: int) -> None:
    inside = assess(artifact, observation(loinc, 1.0, unit, days=window))
    outside = assess(artifact, observation(loinc, 1.0, unit, days=window + 1))
    assert analyte in inside.values
    assert analyte not in outside.values
    assert reasons(outside)[analyte].startswith(
        f"stale ({(NOW - timedelta(days=window + 1)).date()}, older than {window} days)"
    )


def test_stale_values_never_trigger_and_count_as_missing(artifact: Artifact) -> None:
    """§6.1 a lab older than its window never triggers; for the work-up it counts as missing."""
    panel = assess(
        artifact,
        observation(CALCIUM_TOTAL, 12.5, days=120),
        observation(PHOSPHATE, 7.0, days=91),
        observation(CREATININE, 3.0, days=200),
        observation(PTH, 300, "pg/mL", days=400),
    )
    assert panel.values == {} and panel.calcium is None and panel.egfr is None
    assert not any(panel.high(a) for a in ("calcium", "phosphate", "pth"))
    assert panel.missing_core == ("calcium", "phosphate", "creatinine")
    assert {lab.analyte for lab in panel.unusable} == {"calcium-total", "phosphate", "creatinine", "pth"}


def test_only_the_latest_stale_value_is_reported(artifact: Artifact) -> None:
    panel = assess(artifact, observation(PHOSPHATE, 7.0, days=91), observation(PHOSPHATE, 8.0, days=300))
    assert [lab.display_value for lab in panel.unusable] == ["7 mg/dL"]


@pytest.mark.parametrize(
    ("now", "recent"),
    [
        pytest.param(NOW, True, id="§6.37 recency measured at now: recent at report time"),
        pytest.param(
            NOW + timedelta(days=60), False, id="§6.37 recency measured at now: stale on chart-open later"
        ),
    ],
)
def test_recency_is_measured_at_now(artifact: Artifact, now: datetime, recent: bool) -> None:
    panel = assess(artifact, observation(CALCIUM_TOTAL, 9.5, days=40), now=now)
    assert ("calcium-total" in panel.values) is recent


# --- §3: upper limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obs", "analyte", "limit"),
    [
        pytest.param(
            observation(CALCIUM_TOTAL, 10.5), "calcium-total", 10.4, id="§3 default total Ca ULN 10.4 mg/dL"
        ),
        pytest.param(
            observation(CALCIUM_IONIZED, 5.3),
            "calcium-ionized",
            5.2,
            id="§3 default ionized Ca ULN 5.2 mg/dL",
        ),
        pytest.param(observation(PHOSPHATE, 4.6), "phosphate", 4.5, id="§3 default phosphate ULN 4.5 mg/dL"),
        pytest.param(observation(PTH, 66, "pg/mL"), "pth", 65, id="§3 default intact PTH ULN 65 pg/mL"),
    ],
)
def test_adult_default_upper_limits(
    artifact: Artifact, obs: dict[str, Any], analyte: str, limit: float
) -> None:
    panel = assess(artifact, obs)
    lab = panel.values[analyte]
    assert (lab.upper_limit, lab.upper_limit_source) == (limit, "adult default")
    assert panel.high(analyte if not analyte.startswith("calcium") else "calcium")


@pytest.mark.parametrize(
    ("obs", "analyte", "limit"),
    [
        pytest.param(
            observation(CALCIUM_TOTAL, 10.3, high=10.2),
            "calcium-total",
            10.2,
            id="§3 the Observation's referenceRange.high wins over the default",
        ),
        pytest.param(
            observation(CALCIUM_TOTAL, 2.55, "mmol/L", high=2.50),
            "calcium-total",
            2.50 / 0.2495,
            id="§3 referenceRange.high converted to the canonical unit",
        ),
        pytest.param(
            observation(PTH, 8.0, "pmol/L", high=6.9, high_unit=None),
            "pth",
            6.9 / 0.106,
            id="§3 a referenceRange.high without unit shares the value's unit",
        ),
        pytest.param(
            observation(PHOSPHATE, 1.2, "mmol/L", high=1.45, high_unit="mg/dL"),
            "phosphate",
            1.45,
            id="§3 a referenceRange.high in its own unit",
        ),
    ],
)
def test_reference_range_upper_limits(
    artifact: Artifact, obs: dict[str, Any], analyte: str, limit: float
) -> None:
    lab = assess(artifact, obs).values[analyte]
    assert lab.upper_limit == pytest.approx(limit, rel=1e-3)
    assert lab.reference_high == lab.upper_limit
    assert lab.upper_limit_source == "reference range"


def test_a_reference_range_in_an_unknown_unit_is_not_used(artifact: Artifact) -> None:
    lab = assess(artifact, observation(CALCIUM_TOTAL, 10.3, high=10.2, high_unit="mg")).values[
        "calcium-total"
    ]
    assert (lab.reference_high, lab.upper_limit, lab.upper_limit_source) == (None, 10.4, "adult default")


# --- §3, §6.11, §6.12, §6.17, §6.27: calcium ---------------------------------------------------


def test_corrected_calcium_is_computed_when_albumin_is_recent_and_low(artifact: Artifact) -> None:
    """§3 corrected Ca = Ca + 0.8 x (4.0 - albumin g/dL), albumin recent and < 4.0."""
    panel = assess(
        artifact,
        observation(CALCIUM_TOTAL, 9.8, obs_id="ca"),
        observation(ALBUMIN, 3.0, "g/dL", obs_id="alb"),
    )
    corrected = panel.values["calcium-corrected"]
    assert corrected.value == pytest.approx(10.6)
    assert corrected.computed and corrected.observation_id is None
    assert corrected.derived_from == ("ca", "alb")
    assert corrected.note is not None and "albumin 3 g/dL" in corrected.note
    assert panel.calcium == corrected and panel.high("calcium")


@pytest.mark.parametrize(
    "albumin",
    [
        pytest.param(observation(ALBUMIN, 4.0, "g/dL"), id="§3 albumin 4.0 is not < 4.0: no correction"),
        pytest.param(observation(ALBUMIN, 3.0, "g/dL", days=91), id="§3 stale albumin: no correction"),
        pytest.param(
            observation(ALBUMIN, 3.0, "g/dL", status="preliminary"),
            id="§3 preliminary albumin: no correction",
        ),
    ],
)
def test_no_correction_without_a_recent_low_albumin(artifact: Artifact, albumin: dict[str, Any]) -> None:
    panel = assess(artifact, observation(CALCIUM_TOTAL, 9.8), albumin)
    assert "calcium-corrected" not in panel.values
    assert panel.calcium is not None and panel.calcium.analyte == "calcium-total"


def test_albumin_in_g_per_litre_is_converted_before_correcting(artifact: Artifact) -> None:
    panel = assess(artifact, observation(CALCIUM_TOTAL, 9.8), observation(ALBUMIN, 30, "g/L"))
    assert panel.values["calcium-corrected"].value == pytest.approx(10.6)


@pytest.mark.parametrize(
    ("total", "limit", "source", "high"),
    [
        pytest.param(
            observation(CALCIUM_TOTAL, 9.8, high=10.5),
            10.5,
            "reference range (total calcium)",
            True,
            id="§6.11 corrected Ca compared with the total-calcium Observation's own range",
        ),
        pytest.param(
            observation(CALCIUM_TOTAL, 9.6, high=10.5),
            10.5,
            "reference range (total calcium)",
            False,
            id="§6.11 corrected Ca 10.4 within the total-calcium range 10.5",
        ),
        pytest.param(
            observation(CALCIUM_TOTAL, 9.8),
            10.4,
            "adult default",
            True,
            id="§6.11 corrected Ca without a total range: default total ULN",
        ),
    ],
)
def test_corrected_calcium_upper_limit(
    artifact: Artifact, total: dict[str, Any], limit: float, source: str, high: bool
) -> None:
    panel = assess(artifact, total, observation(ALBUMIN, 3.0, "g/dL"))
    corrected = panel.values["calcium-corrected"]
    assert (corrected.upper_limit, corrected.upper_limit_source) == (limit, source)
    assert panel.high("calcium") is high


@pytest.mark.parametrize(
    ("total", "limit", "high"),
    [
        pytest.param(
            observation(CALCIUM_TOTAL, 9.8),
            None,
            False,
            id="§6.17 child: corrected Ca without the total-calcium range does not trigger",
        ),
        pytest.param(
            observation(CALCIUM_TOTAL, 9.8, high=10.4),
            10.4,
            True,
            id="§6.17 child: corrected Ca compared with the total-calcium range",
        ),
    ],
)
def test_child_corrected_calcium(
    artifact: Artifact, total: dict[str, Any], limit: float | None, high: bool
) -> None:
    panel = assess(artifact, total, observation(ALBUMIN, 3.0, "g/dL"), age=CHILD)
    assert panel.values["calcium-corrected"].upper_limit == limit
    assert panel.high("calcium") is high


@pytest.mark.parametrize(
    ("reported", "albumin", "value", "limit", "source"),
    [
        pytest.param(
            observation(CALCIUM_CORRECTED_MMOL, 2.70, "mmol/L"),
            observation(ALBUMIN, 4.5, "g/dL"),
            2.70 / 0.2495,
            10.4,
            "adult default",
            id="§6.27 reported corrected Ca (29265-6) is used whatever the albumin",
        ),
        pytest.param(
            observation(CALCIUM_CORRECTED_MG, 10.0, high=9.9),
            observation(ALBUMIN, 3.0, "g/dL"),
            10.0,
            9.9,
            "reference range",
            id="§6.27 reported corrected Ca (46099-8) compared with its own range; no computation",
        ),
        pytest.param(
            observation(CALCIUM_CORRECTED_MG, 10.0),
            None,
            10.0,
            10.4,
            "adult default",
            id="§6.27 reported corrected Ca without range: default total ULN (adults)",
        ),
    ],
)
def test_reported_corrected_calcium(
    artifact: Artifact,
    reported: dict[str, Any],
    albumin: dict[str, Any] | None,
    value: float,
    limit: float,
    source: str,
) -> None:
    observations = [observation(CALCIUM_TOTAL, 9.8), reported] + ([albumin] if albumin else [])
    panel = assess(artifact, *observations)
    corrected = panel.values["calcium-corrected"]
    assert corrected.value == pytest.approx(value, rel=1e-3)
    assert not corrected.computed
    assert corrected.upper_limit == pytest.approx(limit, rel=1e-3)
    assert corrected.upper_limit_source == source
    assert panel.calcium == corrected


def test_child_reported_corrected_calcium_without_range_has_no_limit(artifact: Artifact) -> None:
    """§6.27 the default total ULN is for adults only (§5)."""
    panel = assess(artifact, observation(CALCIUM_CORRECTED_MG, 11.5), age=CHILD)
    assert panel.values["calcium-corrected"].upper_limit is None
    assert not panel.high("calcium")


def test_a_stale_reported_corrected_calcium_lets_the_correction_be_computed(artifact: Artifact) -> None:
    """§6.27 the correction is computed only when no (recent) corrected calcium is reported."""
    panel = assess(
        artifact,
        observation(CALCIUM_CORRECTED_MG, 9.0, days=100),
        observation(CALCIUM_TOTAL, 9.8),
        observation(ALBUMIN, 3.0, "g/dL"),
    )
    corrected = panel.values["calcium-corrected"]
    assert corrected.computed and corrected.value == pytest.approx(10.6)


@pytest.mark.parametrize(
    ("observations", "chosen"),
    [
        pytest.param(
            (
                observation(CALCIUM_IONIZED, 1.2, "mmol/L"),
                observation(CALCIUM_TOTAL, 11.0),
                observation(ALBUMIN, 3.0, "g/dL"),
            ),
            "calcium-ionized",
            id="§3/§6.12 recent ionized Ca wins over corrected and total",
        ),
        pytest.param(
            (
                observation(CALCIUM_IONIZED, 1.2, "mmol/L", days=100),
                observation(CALCIUM_TOTAL, 9.0),
                observation(ALBUMIN, 3.0, "g/dL"),
            ),
            "calcium-corrected",
            id="§3/§6.12 stale ionized Ca: corrected is chosen",
        ),
        pytest.param((observation(CALCIUM_TOTAL, 9.0),), "calcium-total", id="§3/§6.12 total Ca alone"),
    ],
)
def test_chosen_calcium(artifact: Artifact, observations: Sequence[dict[str, Any]], chosen: str) -> None:
    panel = assess(artifact, *observations)
    assert panel.calcium is not None and panel.calcium.analyte == chosen


def test_ionized_calcium_in_mmol_per_litre_against_the_default(artifact: Artifact) -> None:
    panel = assess(artifact, observation(CALCIUM_IONIZED, 1.35, "mmol/L"))
    assert panel.high("calcium")  # 5.41 mg/dL > 5.2


# --- §3, §5, §6.10: eGFR -----------------------------------------------------------------------


def test_a_recent_measured_egfr_is_used(artifact: Artifact) -> None:
    panel = assess(artifact, observation(EGFR, 45, "mL/min/{1.73_m2}"), observation(CREATININE, 0.8))
    assert panel.egfr is not None and (panel.egfr.value, panel.egfr.computed) == (45, False)


def test_egfr_is_computed_from_a_recent_creatinine_when_none_is_measured(artifact: Artifact) -> None:
    """§3 else computed from a recent creatinine with CKD-EPI 2021 (adults, sex known), marked computed."""
    panel = assess(artifact, observation(CREATININE, 0.9, obs_id="cr"), age=55, sex="female")
    assert panel.egfr is not None
    assert panel.egfr.value == pytest.approx(75.5, abs=0.1)
    assert panel.egfr.computed and panel.egfr.derived_from == ("cr",)
    assert panel.egfr.note is not None and "computed with CKD-EPI 2021" in panel.egfr.note


def test_creatinine_in_micromoles_is_converted_before_computing(artifact: Artifact) -> None:
    panel = assess(artifact, observation(CREATININE, 221, "umol/L"), age=70, sex="male")
    assert panel.egfr is not None and panel.egfr.value == pytest.approx(27.0, abs=0.1)


def test_a_stale_measured_egfr_gives_way_to_a_computed_one(artifact: Artifact) -> None:
    panel = assess(
        artifact,
        observation(EGFR, 80, "mL/min/{1.73_m2}", days=120),
        observation(CREATININE, 2.5),
        age=70,
        sex="male",
    )
    assert panel.egfr is not None and panel.egfr.computed


@pytest.mark.parametrize(
    ("age", "sex"),
    [
        pytest.param(CHILD, "male", id="§5 children: eGFR is never computed"),
        pytest.param(None, "male", id="§1 unknown age: no computed eGFR"),
        pytest.param(60, None, id="§3 unknown sex: no computed eGFR"),
    ],
)
def test_no_computed_egfr(artifact: Artifact, age: int | None, sex: str | None) -> None:
    panel = assess(artifact, observation(CREATININE, 2.5), age=age, sex=sex)
    assert panel.egfr is None
    assert "creatinine" not in panel.missing_core


def test_a_child_with_a_measured_egfr_below_60_keeps_it(artifact: Artifact) -> None:
    """§6.10 a recent measured eGFR < 60 triggers at any age."""
    panel = assess(artifact, observation(EGFR, 45, "mL/min/{1.73_m2}"), age=CHILD)
    assert panel.egfr is not None and panel.egfr.value == 45 and not panel.egfr.computed


def test_never_a_race_label(artifact: Artifact) -> None:
    """terminology.md: never show a race label from the old race-specific eGFR codes."""
    obs = observation("48642-3", 70, "mL/min/{1.73_m2}")
    obs["code"]["coding"][0]["display"] = "GFR/1.73 sq M.predicted among blacks [Volume Rate/Area]"
    obs["code"]["text"] = "eGFR African American"
    panel = assess(artifact, obs)
    assert panel.egfr is not None and panel.egfr.value == 70
    text = repr(panel).lower()
    assert "black" not in text and "african" not in text


# --- §6.28: flags and comparators --------------------------------------------------------------


def test_adults_ignore_interpretation_flags(artifact: Artifact) -> None:
    """§6.28 for adults the range or default ULN decides; an interpretation flag is ignored."""
    panel = assess(artifact, observation(CALCIUM_TOTAL, 10.0, interpretation="H"))
    assert not panel.high("calcium")
    assert panel.values["calcium-total"].interpretation is None


@pytest.mark.parametrize(
    ("obs", "high"),
    [
        pytest.param(
            observation(CALCIUM_TOTAL, 10.0, high=9.8),
            True,
            id="§5 child: the Observation's own range counts",
        ),
        pytest.param(
            observation(CALCIUM_TOTAL, 11.0), False, id="§5 child: adult default ULNs are not applied"
        ),
        pytest.param(observation(PTH, 90, "pg/mL"), False, id="§5 child: no default PTH ULN"),
    ],
)
def test_children_use_only_their_own_range(artifact: Artifact, obs: dict[str, Any], high: bool) -> None:
    panel = assess(artifact, obs, age=CHILD)
    analyte = "calcium" if obs["code"]["coding"][0]["code"] == CALCIUM_TOTAL else "pth"
    assert panel.high(analyte) is high


def test_children_keep_the_interpretation_flag(artifact: Artifact) -> None:
    """§5 only own range or interpretation (H/HH) counts as abnormal: the flag is recorded."""
    lab = assess(artifact, observation(PHOSPHATE, 6.5, interpretation="HH"), age=CHILD).values["phosphate"]
    assert (lab.interpretation, lab.upper_limit) == ("HH", None)


@pytest.mark.parametrize(
    ("obs", "analyte", "value", "comparator"),
    [
        pytest.param(
            observation(EGFR, 60, "mL/min/{1.73_m2}", comparator="<"),
            "egfr",
            60,
            "<",
            id="§6.28 eGFR '<60' is its bound, below 60",
        ),
        pytest.param(
            observation(EGFR, 90, "mL/min/{1.73_m2}", comparator=">"),
            "egfr",
            90,
            ">",
            id="§6.28 eGFR '>90' is its bound, above",
        ),
        pytest.param(
            observation(EGFR, 15, "mL/min/{1.73_m2}", comparator="<"),
            "egfr",
            15,
            "<",
            id="§6.28 eGFR '<15' is below 30",
        ),
        pytest.param(
            observation(PTH, 10, "pmol/L", comparator=">"),
            "pth",
            94.3,
            ">",
            id="§6.28 a converted bound keeps its comparator",
        ),
    ],
)
def test_comparators_are_kept_with_their_bound(
    artifact: Artifact, obs: dict[str, Any], analyte: str, value: float, comparator: str
) -> None:
    lab = assess(artifact, obs).values[analyte]
    assert lab.value == pytest.approx(value, rel=1e-3)
    assert lab.comparator == comparator


@pytest.mark.parametrize(
    ("comparator", "value", "high"),
    [
        pytest.param(">", 12.0, True, id="§6.28 Ca '>12' is above the ULN 10.4"),
        pytest.param("<", 11.0, False, id="§6.28 Ca '<11' never proves above the ULN"),
        pytest.param(">", 10.0, False, id="§6.28 Ca '>10' is on the far side of the ULN 10.4: no"),
    ],
)
def test_comparator_against_the_upper_limit(
    artifact: Artifact, comparator: str, value: float, high: bool
) -> None:
    assert assess(artifact, observation(CALCIUM_TOTAL, value, comparator=comparator)).high("calcium") is high


@pytest.mark.parametrize(
    ("comparator", "expected"),
    [
        pytest.param(">", "<", id="§6.28 creatinine '>x' gives a computed eGFR '<y'"),
        pytest.param("<=", ">=", id="§6.28 creatinine '<=x' gives a computed eGFR '>=y'"),
    ],
)
def test_a_creatinine_bound_is_the_opposite_egfr_bound(
    artifact: Artifact, comparator: str, expected: str
) -> None:
    panel = assess(artifact, observation(CREATININE, 2.5, comparator=comparator), age=70, sex="male")
    assert panel.egfr is not None and panel.egfr.comparator == expected


def test_a_calcium_bound_is_not_corrected(artifact: Artifact) -> None:
    panel = assess(
        artifact, observation(CALCIUM_TOTAL, 14.0, comparator=">"), observation(ALBUMIN, 3.0, "g/dL")
    )
    assert "calcium-corrected" not in panel.values


# --- §3: Ca x P --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observations", "product", "flagged"),
    [
        pytest.param(
            (observation(CALCIUM_TOTAL, 10.0), observation(PHOSPHATE, 5.5)),
            55.0,
            True,
            id="§3 Ca x P >= 55 is flagged",
        ),
        pytest.param(
            (observation(CALCIUM_TOTAL, 9.0), observation(PHOSPHATE, 6.0)),
            54.0,
            False,
            id="§3 Ca x P 54 is information only",
        ),
        pytest.param(
            (observation(CALCIUM_TOTAL, 2.5, "mmol/L"), observation(PHOSPHATE, 1.8, "mmol/L")),
            pytest.approx(55.9, abs=0.1),
            True,
            id="§3 Ca x P in mg2/dL2 from SI values",
        ),
        pytest.param(
            (observation(CALCIUM_TOTAL, 9.0), observation(ALBUMIN, 3.0, "g/dL"), observation(PHOSPHATE, 6.0)),
            pytest.approx(9.8 * 6.0, abs=0.1),
            True,
            id="§3 Ca x P uses the corrected calcium when there is one",
        ),
        pytest.param(
            (observation(CALCIUM_TOTAL, 10.0), observation(PHOSPHATE, 6.0, days=91)),
            None,
            False,
            id="§3 Ca x P only when both are recent",
        ),
        pytest.param(
            (observation(CALCIUM_IONIZED, 1.3, "mmol/L"), observation(PHOSPHATE, 6.0)),
            None,
            False,
            id="§3 Ca x P is not computed from an ionized calcium",
        ),
    ],
)
def test_calcium_phosphate_product(
    artifact: Artifact, observations: Sequence[dict[str, Any]], product: object, flagged: bool
) -> None:
    panel = assess(artifact, *observations)
    assert panel.ca_x_p == product
    assert panel.ca_x_p_flagged is flagged


def test_calcium_phosphate_product_does_not_make_anything_high(artifact: Artifact) -> None:
    """§3 Ca x P >= 55 is flagged but is not on its own a trigger: separate values decide."""
    panel = assess(artifact, observation(CALCIUM_TOTAL, 10.0), observation(PHOSPHATE, 4.5))
    assert panel.ca_x_p == 45.0
    panel = assess(artifact, observation(CALCIUM_TOTAL, 10.3), observation(PHOSPHATE, 4.5))
    assert not panel.ca_x_p_flagged and not panel.high("calcium") and not panel.high("phosphate")
    panel = assess(artifact, observation(CALCIUM_TOTAL, 10.4), observation(PHOSPHATE, 5.3))
    assert panel.ca_x_p_flagged and not panel.high("calcium")


# --- §6.8, §6.36: missing core labs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("observations", "missing"),
    [
        pytest.param((), ("calcium", "phosphate", "creatinine"), id="§4 work-up: no labs at all"),
        pytest.param(
            (observation(CALCIUM_TOTAL, 9.5), observation(PHOSPHATE, 3.5), observation(CREATININE, 0.8)),
            (),
            id="§4 work-up: all core labs recent",
        ),
        pytest.param(
            (
                observation(CALCIUM_IONIZED, 1.2, "mmol/L"),
                observation(PHOSPHATE, 3.5),
                observation(EGFR, 80, "mL/min/{1.73_m2}"),
            ),
            (),
            id="§6.36 an ionized calcium meets calcium; §6.8 eGFR meets creatinine-or-eGFR",
        ),
        pytest.param(
            (observation(CALCIUM_CORRECTED_MMOL, 2.4, "mmol/L"), observation(PHOSPHATE, 3.5)),
            ("creatinine",),
            id="§6.36 a reported corrected calcium meets calcium",
        ),
        pytest.param(
            (
                observation(CALCIUM_TOTAL, 9.5, status="preliminary"),
                observation(PHOSPHATE, 3.5, "mg"),
                observation(CREATININE, 0.8, days=91),
            ),
            ("calcium", "phosphate", "creatinine"),
            id="§6.1 preliminary, unknown-unit and stale core labs count as missing",
        ),
    ],
)
def test_missing_core_labs(
    artifact: Artifact, observations: Sequence[dict[str, Any]], missing: tuple[str, ...]
) -> None:
    assert assess(artifact, *observations).missing_core == missing


# --- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loinc", "unit", "analyte"),
    [
        pytest.param("2000-8", "mmol/L", "calcium-total", id="value set: total calcium 2000-8"),
        pytest.param("1994-3", "mmol/L", "calcium-ionized", id="value set: ionized calcium 1994-3 (blood)"),
        pytest.param("17864-0", "mg/dL", "calcium-ionized", id="value set: ionized calcium 17864-0"),
        pytest.param("14879-1", "mmol/L", "phosphate", id="value set: phosphate 14879-1"),
        pytest.param("14866-8", "pmol/L", "pth", id="value set: PTH 14866-8"),
        pytest.param("14682-9", "umol/L", "creatinine", id="value set: creatinine 14682-9"),
        pytest.param("33914-3", "mL/min/{1.73_m2}", "egfr", id="value set: eGFR 33914-3 (MDRD)"),
        pytest.param("62238-1", "mL/min/{1.73_m2}", "egfr", id="value set: eGFR 62238-1 (CKD-EPI 2009)"),
        pytest.param("14635-7", "nmol/L", "vitamin-d", id="value set: 25-OH vitamin D 14635-7"),
    ],
)
def test_observations_are_matched_by_loinc_code(
    artifact: Artifact, loinc: str, unit: str, analyte: str
) -> None:
    assert analyte in assess(artifact, observation(loinc, 1.0, unit)).values


def test_other_codes_and_systems_are_not_labs_of_the_panel(artifact: Artifact) -> None:
    other_system = observation(CALCIUM_TOTAL, 12.0)
    other_system["code"]["coding"][0]["system"] = "http://example.org/local"
    alp = observation("6768-6", 300, "U/L")
    panel = assess(artifact, other_system, alp, observation("718-7", 12.0, "g/dL"))
    assert panel.values == {} and panel.unusable == ()


def test_a_second_loinc_coding_is_enough(artifact: Artifact) -> None:
    obs = observation(CALCIUM_TOTAL, 9.5)
    obs["code"]["coding"].insert(0, {"system": "http://example.org/local", "code": "CA"})
    obs["code"]["coding"].insert(0, {"system": LOINC, "code": "0000-0"})
    assert "calcium-total" in assess(artifact, obs).values


# --- §6.7, §6.12: what the endocrinology and nephrology decisions read -------------------------


@pytest.mark.parametrize(
    ("observations", "calcium_high", "pth_high"),
    [
        pytest.param(
            (observation(CALCIUM_TOTAL, 10.8), observation(PTH, 80, "pg/mL")),
            True,
            True,
            id="§6.7 recent calcium above the ULN with PTH above the ULN",
        ),
        pytest.param(
            (observation(CALCIUM_TOTAL, 10.8, days=100), observation(PTH, 80, "pg/mL")),
            False,
            True,
            id="§6.7 a stale high calcium is not a recent calcium above the ULN",
        ),
        pytest.param(
            (
                observation(CALCIUM_IONIZED, 1.2, "mmol/L"),
                observation(CALCIUM_TOTAL, 10.8),
                observation(PTH, 80, "pg/mL"),
            ),
            False,
            True,
            id="§6.12 'recent calcium above the ULN' is the chosen value: a normal ionized wins",
        ),
        pytest.param(
            (
                observation(CALCIUM_TOTAL, 10.2),
                observation(ALBUMIN, 3.2, "g/dL"),
                observation(PTH, 40, "pg/mL"),
            ),
            True,
            False,
            id="§6.12 a computed corrected calcium above the ULN is the chosen value",
        ),
    ],
)
def test_calcium_and_pth_above_the_upper_limit(
    artifact: Artifact, observations: Sequence[dict[str, Any]], calcium_high: bool, pth_high: bool
) -> None:
    panel = assess(artifact, *observations)
    assert panel.high("calcium") is calcium_high
    assert panel.high("pth") is pth_high


@pytest.mark.parametrize(
    ("observations", "computed"),
    [
        pytest.param((observation(EGFR, 55, "mL/min/{1.73_m2}"),), False, id="§6.12 recent eGFR: measured"),
        pytest.param((observation(CREATININE, 1.4),), True, id="§6.12 recent eGFR: computed counts too"),
    ],
)
def test_recent_egfr_is_measured_or_computed(
    artifact: Artifact, observations: Sequence[dict[str, Any]], computed: bool
) -> None:
    panel = assess(artifact, *observations, age=63, sex="female")
    assert panel.egfr is not None and panel.egfr.value < 60 and panel.egfr.computed is computed
