"""Conditions: §3 (conditions), §6.6, §6.7, §6.12, §6.29, §6.34."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.conditions import assess_history
from cds_service.clinical.evaluation import ClinicalHistory
from cds_service.knowledge.terminology import Terminology
from tests.unit.clinical.builders import ICD10CM, NOW, SNOMED, condition, days_ago


def history(terminology: Terminology, *conditions: dict[str, Any]) -> ClinicalHistory:
    return assess_history(conditions, terminology, NOW)


@pytest.mark.parametrize(
    ("system", "code", "triggering", "esrd_or_dialysis"),
    [
        pytest.param(SNOMED, "709044004", True, False, id="§6.6 CKD unspecified stage (709044004) triggers"),
        pytest.param(ICD10CM, "N18.9", True, False, id="§6.6 CKD unspecified stage (N18.9) triggers"),
        pytest.param(ICD10CM, "N18", True, False, id="§6.6 bare N18 is CKD of unspecified stage"),
        pytest.param(SNOMED, "433144002", True, False, id="§6.6 CKD G3 (433144002) triggers"),
        pytest.param(SNOMED, "700378005", True, False, id="§6.6 CKD G3a (700378005) triggers"),
        pytest.param(SNOMED, "700379002", True, False, id="§6.6 CKD G3b (700379002) triggers"),
        pytest.param(SNOMED, "431857002", True, False, id="§6.6 CKD G4 (431857002) triggers"),
        pytest.param(SNOMED, "433146000", True, False, id="§6.6 CKD G5 (433146000) triggers"),
        pytest.param(ICD10CM, "N18.3", True, False, id="§6.6 N18.3 triggers"),
        pytest.param(ICD10CM, "N18.31", True, False, id="§6.6 N18.31 (G3a) triggers"),
        pytest.param(ICD10CM, "N18.32", True, False, id="§6.6 N18.32 (G3b) triggers"),
        pytest.param(ICD10CM, "N18.4", True, False, id="§6.6 N18.4 triggers"),
        pytest.param(ICD10CM, "N18.5", True, False, id="§6.6 N18.5 triggers"),
        pytest.param(ICD10CM, "N184", True, False, id="§6.6 dotless ICD N184 is N18.4"),
        pytest.param(ICD10CM, "n18.30", True, False, id="§6.6 lower-case ICD n18.30 is N18.30"),
        pytest.param(SNOMED, "46177005", True, True, id="§6.6 ESRD (46177005) triggers"),
        pytest.param(ICD10CM, "N18.6", True, True, id="§6.6 ESRD (N18.6) triggers"),
        pytest.param(ICD10CM, "N186", True, True, id="§6.6 dotless ESRD N186"),
        pytest.param(SNOMED, "105502003", True, True, id="§6.6 dialysis dependence (105502003) triggers"),
        pytest.param(ICD10CM, "Z99.2", True, True, id="§6.6 dialysis dependence (Z99.2) triggers"),
        pytest.param(ICD10CM, "Z992", True, True, id="§6.6 dotless dialysis Z992"),
        pytest.param(SNOMED, "431855005", False, False, id="§6.6 CKD G1 (431855005) does not trigger"),
        pytest.param(SNOMED, "431856006", False, False, id="§6.6 CKD G2 (431856006) does not trigger"),
        pytest.param(ICD10CM, "N18.1", False, False, id="§6.6 N18.1 (G1) does not trigger"),
        pytest.param(ICD10CM, "N182", False, False, id="§6.6 dotless N182 (G2) does not trigger"),
    ],
)
def test_ckd_stages(
    terminology: Terminology, system: str, code: str, triggering: bool, esrd_or_dialysis: bool
) -> None:
    result = history(terminology, condition(system, code))
    assert result.ckd_any, "§6.6/§6.29 any CKD condition (any stage) counts as CKD history"
    assert result.ckd_triggering is triggering
    assert result.esrd_or_dialysis is esrd_or_dialysis


def test_a_g1_g2_condition_does_not_block_the_endocrinology_referral(terminology: Terminology) -> None:
    """§6.12 'CKD' in §6.7 means a triggering condition; G1-G2 does not block the referral."""
    result = history(terminology, condition(ICD10CM, "N18.2"), condition(SNOMED, "36348003"))
    assert result.hyperparathyroidism and result.ckd_any and not result.ckd_triggering


def test_a_hypercalcaemia_condition_is_not_a_high_calcium_value(terminology: Terminology) -> None:
    """§6.7 a hypercalcaemia condition alone is not a recent calcium above the ULN (labs decide)."""
    result = history(terminology, condition(SNOMED, "66931009"))
    assert result.hypercalcaemia and not result.hyperparathyroidism and not result.ckd_triggering


@pytest.mark.parametrize(
    ("system", "code", "flag"),
    [
        pytest.param(SNOMED, "66999008", "hyperparathyroidism", id="§3 hyperparathyroidism (66999008)"),
        pytest.param(SNOMED, "36348003", "hyperparathyroidism", id="§3 primary hyperparathyroidism"),
        pytest.param(SNOMED, "91478007", "hyperparathyroidism", id="§3 secondary hyperparathyroidism"),
        pytest.param(SNOMED, "78200003", "hyperparathyroidism", id="§3 tertiary hyperparathyroidism"),
        pytest.param(ICD10CM, "E21.0", "hyperparathyroidism", id="§3 E21.0 primary hyperparathyroidism"),
        pytest.param(
            ICD10CM, "E211", "hyperparathyroidism", id="§3 dotless E211 secondary hyperparathyroidism"
        ),
        pytest.param(ICD10CM, "E21.3", "hyperparathyroidism", id="§3 E21.3 hyperparathyroidism unspecified"),
        pytest.param(
            ICD10CM, "N25.81", "hyperparathyroidism", id="§3 N25.81 secondary hyperparathyroidism, renal"
        ),
        pytest.param(ICD10CM, "N2581", "hyperparathyroidism", id="§3 dotless N2581"),
        pytest.param(SNOMED, "66931009", "hypercalcaemia", id="§3 hypercalcaemia (66931009)"),
        pytest.param(ICD10CM, "E83.52", "hypercalcaemia", id="§3 hypercalcaemia (E83.52)"),
        pytest.param(SNOMED, "20165001", "hyperphosphataemia", id="§3 hyperphosphataemia (20165001)"),
        pytest.param(ICD10CM, "E83.39", "hyperphosphataemia", id="§3 hyperphosphataemia (E83.39)"),
        pytest.param(ICD10CM, "E67.3", "hypervitaminosis_d", id="terminology: hypervitaminosis D (E67.3)"),
        pytest.param(SNOMED, "387837005", "soft_tissue_neoplasm", id="§3 soft-tissue neoplasm (387837005)"),
        pytest.param(
            ICD10CM, "C49.2", "soft_tissue_neoplasm", id="§3 malignant neoplasm, lower limb (C49.2)"
        ),
        pytest.param(ICD10CM, "D21.2", "soft_tissue_neoplasm", id="§3 benign neoplasm, lower limb (D21.2)"),
    ],
)
def test_metabolic_and_neoplasm_conditions(
    terminology: Terminology, system: str, code: str, flag: str
) -> None:
    result = history(terminology, condition(system, code))
    assert getattr(result, flag) is True
    assert not result.ckd_any


@pytest.mark.parametrize(
    ("system", "code"),
    [
        pytest.param(ICD10CM, "E21.4", id="E21.4 (other parathyroid disorder) is not hyperparathyroidism"),
        pytest.param(ICD10CM, "N25.8", id="N25.8 is not N25.81"),
        pytest.param(ICD10CM, "N17.9", id="acute kidney failure is not CKD"),
        pytest.param(SNOMED, "38341003", id="a SNOMED code outside the value sets"),
        pytest.param("http://example.org/local", "N18.4", id="a CKD code in an unknown system"),
    ],
)
def test_codes_outside_the_value_sets_count_for_nothing(
    terminology: Terminology, system: str, code: str
) -> None:
    assert history(terminology, condition(system, code)) == ClinicalHistory()


def test_display_strings_are_never_compared(terminology: Terminology) -> None:
    """terminology.md: compare codes, never display strings."""
    resource = condition("http://example.org/local", "X1", display="Chronic kidney disease stage 4")
    resource["code"]["text"] = "Chronic kidney disease stage 4"
    assert history(terminology, resource) == ClinicalHistory()


# --- active, not entered-in-error --------------------------------------------------------------


@pytest.mark.parametrize(
    ("clinical", "verification", "extra", "counts"),
    [
        pytest.param("active", None, {}, True, id="§3 active condition counts"),
        pytest.param("recurrence", None, {}, True, id="§3 recurrence is active"),
        pytest.param("relapse", None, {}, True, id="§3 relapse is active"),
        pytest.param("inactive", None, {}, False, id="§3 inactive does not count"),
        pytest.param("resolved", None, {}, False, id="§3 resolved does not count"),
        pytest.param("remission", None, {}, False, id="§3 remission does not count"),
        pytest.param("active", "entered-in-error", {}, False, id="§3 entered-in-error does not count"),
        pytest.param("active", "refuted", {}, False, id="§3 refuted does not count"),
        pytest.param("active", "unconfirmed", {}, True, id="§3 unconfirmed still counts"),
        pytest.param("active", "confirmed", {}, True, id="§3 confirmed counts"),
        pytest.param(None, None, {}, True, id="§3 no clinicalStatus: treated as active"),
        pytest.param(
            None,
            None,
            {"abatementDateTime": "2025-01-01"},
            False,
            id="§3 no clinicalStatus but abated: not active",
        ),
        pytest.param(None, "entered-in-error", {}, False, id="§3 no clinicalStatus, entered-in-error"),
    ],
)
def test_only_active_conditions_count(
    terminology: Terminology,
    clinical: str | None,
    verification: str | None,
    extra: dict[str, Any],
    counts: bool,
) -> None:
    resource = condition(
        SNOMED, "431857002", clinical_status=clinical, verification_status=verification, **extra
    )
    assert history(terminology, resource).ckd_triggering is counts


# --- §6.34: history from conditions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "extra", "counts"),
    [
        pytest.param(
            SNOMED,
            "125602001",
            {"onsetDateTime": days_ago(30)},
            True,
            id="§6.34 lower leg injury with onset 30 days ago is recent",
        ),
        pytest.param(
            SNOMED,
            "7523003",
            {"onsetDateTime": days_ago(90)},
            True,
            id="§6.34 thigh injury 90 days ago is still recent",
        ),
        pytest.param(
            SNOMED,
            "417746004",
            {"onsetDateTime": days_ago(91)},
            False,
            id="§6.34 traumatic injury 91 days ago is not recent",
        ),
        pytest.param(SNOMED, "282026002", {}, True, id="§6.34 soft tissue injury without a date counts"),
        pytest.param(
            ICD10CM,
            "S82.201A",
            {"recordedDate": days_ago(10)},
            True,
            id="§6.34 S82.x (lower leg) recorded 10 days ago",
        ),
        pytest.param(
            ICD10CM,
            "S72001A",
            {"onsetPeriod": {"start": days_ago(200)}, "recordedDate": days_ago(5)},
            False,
            id="§6.34 the onset wins over recordedDate (S72.x thigh, 200 days)",
        ),
        pytest.param(
            ICD10CM, "S70.0", {"onsetDateTime": days_ago(2)}, True, id="§6.34 S70 (hip/thigh) recent"
        ),
        pytest.param(
            ICD10CM, "S89.9", {"onsetDateTime": days_ago(2)}, True, id="§6.34 S89 (lower leg) recent"
        ),
        pytest.param(
            ICD10CM, "S60.0", {"onsetDateTime": days_ago(2)}, False, id="§6.34 S60 (wrist/hand) is no leg"
        ),
    ],
)
def test_recent_leg_injury(
    terminology: Terminology, system: str, code: str, extra: dict[str, Any], counts: bool
) -> None:
    assert history(terminology, condition(system, code, **extra)).recent_leg_injury is counts


@pytest.mark.parametrize(
    ("system", "code", "connective"),
    [
        pytest.param(SNOMED, "128045006", False, id="§6.34 cellulitis condition is inflammation"),
        pytest.param(ICD10CM, "L03.116", False, id="§6.34 cellulitis of left lower limb (L03.116)"),
        pytest.param(SNOMED, "128477000", False, id="§6.34 abscess condition is inflammation"),
        pytest.param(ICD10CM, "L02.416", False, id="§6.34 cutaneous abscess of left leg (L02.416)"),
        pytest.param(SNOMED, "22125009", False, id="§6.34 panniculitis condition is inflammation"),
        pytest.param(ICD10CM, "M79.3", False, id="§6.34 panniculitis (M79.3)"),
        pytest.param(SNOMED, "396230008", True, id="§6.34 dermatomyositis is connective tissue disease"),
        pytest.param(ICD10CM, "M33.10", True, id="§6.34 dermatomyositis (M33.1x)"),
        pytest.param(SNOMED, "89155008", True, id="§6.34 systemic sclerosis is connective tissue disease"),
        pytest.param(ICD10CM, "M34.9", True, id="§6.34 systemic sclerosis (M34.x)"),
        pytest.param(SNOMED, "55464009", True, id="§6.34 lupus is connective tissue disease"),
        pytest.param(ICD10CM, "M32.14", True, id="§6.34 lupus (M32.x)"),
    ],
)
def test_inflammation_and_connective_tissue_disease(
    terminology: Terminology, system: str, code: str, connective: bool
) -> None:
    result = history(terminology, condition(system, code))
    assert result.inflammation
    assert result.connective_tissue_disease is connective


def test_inflammation_from_an_inactive_condition_does_not_count(terminology: Terminology) -> None:
    assert not history(terminology, condition(SNOMED, "55464009", clinical_status="resolved")).inflammation


# --- evidence ----------------------------------------------------------------------------------


def test_evidence_names_the_condition_and_its_code(terminology: Terminology) -> None:
    result = history(
        terminology,
        condition(SNOMED, "431857002", display="Chronic kidney disease stage 4", cond_id="abc"),
        condition(ICD10CM, "N186", cond_id="def"),
    )
    assert result.evidence == (
        ("ckd", "Condition/abc: Chronic kidney disease stage 4 (SNOMED 431857002)"),
        ("esrd-or-dialysis", "Condition/def: End-stage renal disease (ICD-10-CM N186)"),
    )


def test_a_condition_coded_twice_gives_evidence_per_coding(terminology: Terminology) -> None:
    resource = condition(SNOMED, "431857002", cond_id="abc")
    resource["code"]["coding"].append({"system": ICD10CM, "code": "N18.4"})
    result = history(terminology, resource)
    assert result.ckd_triggering
    assert [concept for concept, _ in result.evidence] == ["ckd", "ckd"]
