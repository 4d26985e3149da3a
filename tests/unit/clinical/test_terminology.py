"""The artifact's terminology section (terminology.md as data): strict schema, check flags, codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from cds_service.knowledge import Artifact
from cds_service.knowledge.terminology import IcdCode, Terminology


def _entries(node: Any) -> Iterator[dict[str, Any]]:
    """Every code entry anywhere in the dumped terminology."""
    if isinstance(node, dict):
        if isinstance(node.get("code"), str):
            yield node
        for value in node.values():
            yield from _entries(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _entries(item)


def _check_flags(terminology: Terminology, code: str) -> set[bool]:
    return {
        entry.get("check", False) for entry in _entries(terminology.model_dump()) if entry["code"] == code
    }


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("2000-8", id="check: total calcium 2000-8"),
        pytest.param("17863-2", id="check: ionized calcium 17863-2"),
        pytest.param("46099-8", id="check: reported corrected calcium 46099-8"),
        pytest.param("2777-1", id="check: phosphate 2777-1"),
        pytest.param("14879-1", id="check: phosphate 14879-1"),
        pytest.param("2731-8", id="check: PTH 2731-8"),
        pytest.param("14866-8", id="check: PTH 14866-8"),
        pytest.param("14682-9", id="check: creatinine 14682-9"),
        pytest.param("38483-4", id="check: creatinine 38483-4"),
        pytest.param("61151-7", id="check: albumin 61151-7"),
        pytest.param("61152-5", id="check: albumin 61152-5"),
        pytest.param("83070-3", id="check: vitamin D 83070-3"),
        pytest.param("700378005", id="check: CKD 3a"),
        pytest.param("700379002", id="check: CKD 3b"),
        pytest.param("44551007", id="check: myositis ossificans"),
        pytest.param("7771000", id="check: left laterality"),
        pytest.param("36289-7", id="check: MRI bilateral"),
        pytest.param("36449-7", id="check: CT bilateral"),
        pytest.param("30709-0", id="check: US lower extremity"),
        pytest.param("306118006", id="check: endocrinology referral"),
        pytest.param("108252007", id="check: category laboratory"),
        pytest.param("363679005", id="check: category imaging"),
        pytest.param("3457005", id="check: category referral"),
        pytest.param("128045006", id="check: cellulitis (chosen here, not in terminology.md)"),
        pytest.param("55464009", id="check: lupus (chosen here, not in terminology.md)"),
    ],
)
def test_codes_seen_only_in_secondary_sources_keep_their_check_flag(
    terminology: Terminology, code: str
) -> None:
    assert _check_flags(terminology, code) == {True}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("17861-6", id="verified: total calcium 17861-6"),
        pytest.param("29265-6", id="verified: reported corrected calcium 29265-6"),
        pytest.param("2160-0", id="verified: creatinine 2160-0"),
        pytest.param("431857002", id="verified: CKD stage 4"),
        pytest.param("306125004", id="verified: nephrology referral"),
        pytest.param("24028007", id="verified: right laterality"),
    ],
)
def test_verified_codes_carry_no_check_flag(terminology: Terminology, code: str) -> None:
    assert _check_flags(terminology, code) == {False}


def test_the_packaged_artifact_has_every_analyte_of_the_panel(terminology: Terminology) -> None:
    assessed = {key for key, analyte in terminology.analytes.items() if analyte.assessed}
    assert assessed == {
        "calcium-total",
        "calcium-ionized",
        "calcium-corrected",
        "phosphate",
        "pth",
        "creatinine",
        "egfr",
        "albumin",
        "vitamin-d",
    }


@pytest.mark.parametrize(
    ("analyte", "canonical"),
    [
        pytest.param("calcium-total", "mg/dL", id="canonical unit: calcium mg/dL"),
        pytest.param("phosphate", "mg/dL", id="canonical unit: phosphate mg/dL"),
        pytest.param("pth", "pg/mL", id="canonical unit: PTH pg/mL"),
        pytest.param("creatinine", "mg/dL", id="canonical unit: creatinine mg/dL"),
        pytest.param("egfr", "mL/min/{1.73_m2}", id="canonical unit: eGFR mL/min/{1.73_m2}"),
        pytest.param("albumin", "g/dL", id="canonical unit: albumin g/dL"),
        pytest.param("vitamin-d", "ng/mL", id="canonical unit: vitamin D ng/mL"),
    ],
)
def test_canonical_units(terminology: Terminology, analyte: str, canonical: str) -> None:
    assert terminology.quantity_of(analyte).canonical == canonical


def test_reported_corrected_calcium_value_set(terminology: Terminology) -> None:
    codes = {(code.code, code.unit) for code in terminology.analytes["calcium-corrected"].codes}
    assert codes == {("29265-6", "mmol/L"), ("46099-8", "mg/dL")}


def test_lab_orders_use_the_mass_unit_loinc(terminology: Terminology) -> None:
    """terminology.md: lab orders use the mass-unit code by default."""
    ordered = {
        test: order.code.code
        for test, order in terminology.orders.items()
        if order.kind == "laboratory" and order.code is not None
    }
    assert ordered == {
        "calcium": "17861-6",
        "phosphate": "2777-1",
        "pth": "2731-8",
        "creatinine": "2160-0",
        "albumin": "1751-7",
        "vitamin-d": "62292-8",
    }


def test_imaging_codes_by_side(terminology: Terminology) -> None:
    mri = terminology.orders["mri"]
    assert {side: code.code for side, code in mri.by_side.items()} == {
        "left": "36291-3",
        "right": "36333-3",
        "bilateral": "36289-7",
    }
    assert mri.side_unknown is not None and (mri.side_unknown.system, mri.side_unknown.code) == (
        "cpt",
        "73720",
    )
    sarcoma = terminology.orders["referral-sarcoma"]
    assert sarcoma.reason is not None and sarcoma.reason.code == "387837005"


@pytest.mark.parametrize(
    ("entry", "candidate", "specificity"),
    [
        pytest.param(IcdCode(code="N18", prefix=True), "N18.4", 3, id="ICD prefix N18 matches N18.4"),
        pytest.param(IcdCode(code="N18.4"), "N184", 4, id="ICD dotless N184 matches N18.4"),
        pytest.param(IcdCode(code="N18.4"), "N18.40", 0, id="ICD exact entries do not match children"),
        pytest.param(IcdCode(code="N18.3", prefix=True), "N18.31", 4, id="ICD prefix N18.3 matches N18.31"),
        pytest.param(IcdCode(code="S8", prefix=False), "S82", 0, id="ICD exact entry"),
    ],
)
def test_icd_matching(entry: IcdCode, candidate: str, specificity: int) -> None:
    assert entry.matches(candidate) == specificity


# --- the schema is strict ----------------------------------------------------------------------


def _raw(artifact: Artifact) -> dict[str, Any]:
    return artifact.terminology.model_dump()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda t: t.update(colour="blue"), "Extra inputs are not permitted", id="schema: unknown key"
        ),
        pytest.param(
            lambda t: t["analytes"]["phosphate"].update(quantity="volume"),
            "is not in units",
            id="schema: an analyte's quantity must exist",
        ),
        pytest.param(
            lambda t: t["analytes"]["phosphate"]["codes"][0].update(unit="mg"),
            "has no conversion",
            id="schema: a LOINC code's unit must be convertible",
        ),
        pytest.param(
            lambda t: t["orders"]["calcium"].update(covered_by_analytes=["magnesium"]),
            "unknown analyte",
            id="schema: orders cover known analytes",
        ),
        pytest.param(
            lambda t: t["systems"].pop("cpt"), "missing cpt", id="schema: every code system is named"
        ),
        pytest.param(
            lambda t: t["conditions"]["ckd-stage-4"].update(counts_as=["kidney"]),
            "counts_as",
            id="schema: counts_as is one of the history flags",
        ),
        pytest.param(
            lambda t: t["units"]["calcium"]["conversions"][0].update(factor=0),
            "greater than 0",
            id="schema: conversion factors are positive",
        ),
    ],
)
def test_a_bad_terminology_is_refused_with_the_field(artifact: Artifact, change: Any, message: str) -> None:
    raw = _raw(artifact)
    change(raw)
    with pytest.raises(ValidationError, match=message):
        Terminology.model_validate(raw)


def test_the_dumped_terminology_validates_again(artifact: Artifact) -> None:
    assert Terminology.model_validate(_raw(artifact)) == artifact.terminology
