"""§2 sources and §6.31 contentType: every place a report carries its text, and what is skipped."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cds_service.clinical.evaluation import Assertion, FindingType
from cds_service.clinical.patient_data import FetchedAttachment
from cds_service.clinical.report import read_report
from cds_service.clinical.report.text import html_to_text, rtf_to_text
from tests.unit.report.conftest import LEXICONS, report

FINDING = "FINDINGS: Soft tissue calcification in the left calf."


def form(content_type: str, body: str, **extra: Any) -> dict[str, Any]:
    return {"contentType": content_type, "data": base64.b64encode(body.encode()).decode(), **extra}


HTML = (
    "<html><body><p><b>FINDINGS:</b> Soft&nbsp;tissue calcification in the left calf &amp; thigh.</p>"
    "</body></html>"
)
RTF = (
    r"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\colortbl;\red0\green0\blue0;}\f0\fs20 "
    r"FINDINGS:\par Soft tissue calcification in the left calf.\par}"
)

FORMS = [
    (form("text/plain", FINDING), "§2 presentedForm base64 text/plain"),
    (form("text/plain; charset=utf-8", FINDING), "§6.31 contentType with charset"),
    (form("TEXT/PLAIN", FINDING), "§6.31 contentType case"),
    (form("text/html", HTML), "§2 presentedForm text/html"),
    (form("text/rtf", RTF), "§2 presentedForm text/rtf"),
    (form("application/rtf", RTF), "§2 presentedForm application/rtf"),
]


@pytest.mark.parametrize("presented", [row[0] for row in FORMS], ids=[row[1] for row in FORMS])
def test_presented_form_is_read(presented: dict[str, Any]) -> None:
    reading = read_report(report(presentedForm=[presented]), [], {}, LEXICONS)
    assert reading.finding_counts
    assert reading.mentions[0].source == "presentedForm"
    assert reading.mentions[0].text.startswith("Soft tissue calcification in the left calf")


def test_presented_form_url_is_read_from_the_fetched_binary() -> None:
    """§2: a `url` whose Binary the gatherer fetched."""
    url = "https://fhir.example.org/Binary/42"
    attachments = {url: FetchedAttachment("text/plain", FINDING.encode())}
    reading = read_report(
        report(presentedForm=[{"contentType": "text/plain", "url": url}]), [], attachments, LEXICONS
    )
    assert reading.finding_counts
    assert reading.skipped_forms == ()


def test_pdf_is_skipped_and_recorded() -> None:
    """§2: other content types are skipped and noted."""
    pdf = {"contentType": "application/pdf", "data": base64.b64encode(b"%PDF-1.4").decode()}
    reading = read_report(report(presentedForm=[pdf]), [], {}, LEXICONS)
    assert not reading.finding_counts
    assert len(reading.skipped_forms) == 1 and "application/pdf" in reading.skipped_forms[0]


def test_unfetched_url_is_recorded() -> None:
    reading = read_report(
        report(presentedForm=[{"contentType": "text/plain", "url": "https://x/Binary/1"}]), [], {}, LEXICONS
    )
    assert "not fetched" in reading.skipped_forms[0]


def test_narrative_div_is_read() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Calcification in the right thigh.</p></div>'
    reading = read_report(report(text={"status": "generated", "div": div}), [], {}, LEXICONS)
    assert reading.finding_counts and reading.mentions[0].source == "text"


def test_html_tags_stripped_and_entities_decoded() -> None:
    assert html_to_text(HTML).strip() == "FINDINGS: Soft tissue calcification in the left calf & thigh."


def test_rtf_control_words_stripped() -> None:
    assert rtf_to_text(RTF).split("\n")[:2] == ["FINDINGS:", "Soft tissue calcification in the left calf."]


def test_rtf_escapes_decoded() -> None:
    assert rtf_to_text(r"{\rtf1 caf\'e9 \u8211? size}") == "café – size"


def test_conclusion_code_is_a_present_mention() -> None:
    """§2: conclusionCode first in the order of trust."""
    coded = report(conclusionCode=[{"coding": [{"system": "http://snomed.info/sct", "code": "6595006"}]}])
    reading = read_report(coded, [], {}, LEXICONS)
    assert reading.finding_counts and reading.mentions[0].section == "CODED"
    assert reading.finding_type is FindingType.NON_SPECIFIC


def test_coded_benign_entity_is_type_b() -> None:
    coded = report(conclusionCode=[{"coding": [{"system": "http://snomed.info/sct", "code": "239838005"}]}])
    reading = read_report(coded, [], {}, LEXICONS)
    assert reading.finding_type is FindingType.SPECIFIC_BENIGN
    assert reading.benign_entities == {"chondrocalcinosis"}


def test_coded_result_observation_is_read() -> None:
    result = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "17141001"}]},
    }
    reading = read_report(report(), [result], {}, LEXICONS)
    assert reading.finding_counts and reading.mentions[0].source == "result"


def test_conclusion_code_wins_over_contradicting_text() -> None:
    """§2: the order of trust breaks ties between contradicting sources."""
    coded = report(
        "No soft tissue calcification.",
        conclusionCode=[{"coding": [{"system": "http://snomed.info/sct", "code": "6595006"}]}],
    )
    assert read_report(coded, [], {}, LEXICONS).finding_counts


def test_addendum_wins_over_conclusion_code() -> None:
    """§6.38: an ADDENDUM's negation wins over conclusionCode too."""
    coded = report(
        "ADDENDUM: On review there is no soft tissue calcification; the density is a fabella.",
        conclusionCode=[{"coding": [{"system": "http://snomed.info/sct", "code": "6595006"}]}],
    )
    reading = read_report(coded, [], {}, LEXICONS)
    assert not reading.finding_counts
    assert any(m.assertion is Assertion.NEGATED and m.section == "ADDENDUM" for m in reading.mentions)
