"""§1 scope, §6.19, §6.22, §6.23 and design.md decision 3 (the report's own category wins)."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.report import assess_scope, read_report
from tests.unit.report.conftest import LEXICONS, report

LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}]


def scope_of(resource: dict[str, Any]) -> tuple[bool, str]:
    reading = read_report(resource, [], {}, LEXICONS)
    scope = assess_scope(resource, reading, LEXICONS)
    return scope.evaluated, scope.reason


ROWS = [
    (report("Calcification.", code="XR KNEE LEFT"), True, "§1 lower-limb exam in the code"),
    (report("Calcification.", status="amended"), True, "§1 amended"),
    (report("Calcification.", status="corrected"), True, "§1 corrected"),
    (report("Calcification.", status="appended"), True, "§6.22 appended like amended"),
    (report("Calcification.", status="preliminary"), False, "§1 preliminary"),
    (report("Calcification.", status="registered"), False, "§1 registered"),
    (report("Calcification.", status="partial"), False, "§6.22 partial"),
    (report("Calcification.", status="unknown"), False, "§6.22 unknown"),
    (report("Calcification.", status="entered-in-error"), False, "§1 entered-in-error"),
    (report("Calcification in the thigh.", category=LAB), False, "§1 not radiology"),
    (
        report(
            "Calcification in the thigh.",
            category=[{"coding": [{"system": "http://loinc.org", "code": "LP29684-5"}]}],
        ),
        True,
        "§1 LOINC radiology category",
    ),
    (
        report("Calcification in the thigh.", category=[{"coding": [{"code": "imaging"}]}]),
        True,
        "§1 imaging category",
    ),
    (
        report("HISTORY: leg swelling.\nFINDINGS: Calcified granuloma in the right lung.", code="XR CHEST"),
        False,
        "§6.23 history alone is not scope",
    ),
    (
        report("FINDINGS: Calcification in the proximal left thigh.", code="XR PELVIS"),
        True,
        "§1 pelvis exam, thigh finding",
    ),
    (report("FINDINGS: Peritrochanteric calcification.", code="XR PELVIS"), True, "§6.19 peritrochanteric"),
    (report("FINDINGS: Calcification in the gluteal soft tissues.", code="XR PELVIS"), True, "§6.19 gluteal"),
    (
        report("EXAM: XR right ankle 3 views\nFINDINGS: calcification.", code="Radiograph"),
        True,
        "§6.23 EXAM line",
    ),
    (
        report("Left knee two views.\nFINDINGS: calcification.", code="Radiograph"),
        True,
        "§6.23 first line naming the exam",
    ),
    (
        report(
            "Calcification.",
            code="Radiograph",
            presentedForm=[{"contentType": "application/pdf", "title": "XR Left Foot"}],
        ),
        True,
        "§6.23 presentedForm title",
    ),
    (
        report(
            "Calcification.",
            code="XR",
            bodySite=[{"coding": [{"system": "http://snomed.info/sct", "code": "30021000"}]}],
        ),
        True,
        "§1 SNOMED body site",
    ),
    (report("FINDINGS: Calcification in the shoulder.", code="XR SHOULDER"), False, "§1 other region"),
]


@pytest.mark.parametrize(("resource", "evaluated"), [row[:2] for row in ROWS], ids=[row[2] for row in ROWS])
def test_scope(resource: dict[str, Any], evaluated: bool) -> None:
    result, reason = scope_of(resource)
    assert result is evaluated, reason
    assert reason


def test_scope_terminology_adds_body_site_codes() -> None:
    resource = report("Calcification.", code="XR", bodySite=[{"coding": [{"code": "12345"}]}])
    reading = read_report(resource, [], {}, LEXICONS)
    assert not assess_scope(resource, reading, LEXICONS).evaluated
    assert assess_scope(resource, reading, LEXICONS, {"body_sites": {"x": {"code": "12345"}}}).evaluated


def test_scope_reason_is_a_sentence_with_the_evidence() -> None:
    resource = report("Calcification.", code="XR KNEE LEFT")
    scope = assess_scope(resource, read_report(resource, [], {}, LEXICONS), LEXICONS)
    assert scope.lower_limb_evidence and "knee" in scope.lower_limb_evidence.lower()
