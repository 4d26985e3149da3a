"""§6.31 section headers and synonyms; §6.18 the addendum's word; sentence splitting."""

from __future__ import annotations

import pytest

from cds_service.clinical.report.matching import compiled
from cds_service.clinical.report.sections import split_sections
from cds_service.clinical.report.sentences import split_sentences
from tests.unit.report.conftest import LEXICONS, read

LX = compiled(LEXICONS)

HEADERS = [
    ("Clinical details: knee pain", "HISTORY", "§6.31 clinical details = HISTORY"),
    ("Clinical information: lump", "HISTORY", "§6.31 clinical information = HISTORY"),
    ("Hx: fall", "HISTORY", "§6.31 Hx = HISTORY"),
    ("Reason for exam: swelling", "HISTORY", "§6.31 reason for exam = HISTORY"),
    ("INDICATION: pain", "HISTORY", "§6.31 indication = HISTORY"),
    ("Opinion: calcification", "IMPRESSION", "§6.31 opinion = IMPRESSION"),
    ("SUMMARY: calcification", "IMPRESSION", "§6.31 summary = IMPRESSION"),
    ("conclusion: calcification", "IMPRESSION", "§6.31 conclusion = IMPRESSION, any case"),
    ("Addendum, 16:40: calcification", "ADDENDUM", "§6.31 addendum with a suffix"),
    ("ADDENDUM #2: calcification", "ADDENDUM", "§6.31 addendum numbered"),
    ("L FOOT: calcification", "FINDINGS", "§6.31 unknown label counts like FINDINGS"),
    ("CORRECTED REPORT: calcification", "FINDINGS", "§6.31 corrected report counts like FINDINGS"),
    ("Comparison: none", "COMPARISON", "§2 comparison"),
    ("TECHNIQUE: AP and lateral", "TECHNIQUE", "§2 technique"),
]


@pytest.mark.parametrize(("line", "section"), [row[:2] for row in HEADERS], ids=[row[2] for row in HEADERS])
def test_section_header(line: str, section: str) -> None:
    split = split_sections(f"Intro line.\n{line}", "FINDINGS", LX)
    assert split.sections[-1].name == section


def test_unknown_label_is_kept_with_its_text() -> None:
    split = split_sections("L FOOT: small calcification", "FINDINGS", LX)
    assert split.sections[0].label == "L FOOT"
    assert split.sections[0].text.startswith("L FOOT:")


def test_header_in_the_middle_of_a_line() -> None:
    split = split_sections("HISTORY: pain. FINDINGS: calcification in the calf.", "FINDINGS", LX)
    assert [s.name for s in split.sections] == ["HISTORY", "FINDINGS"]


def test_history_alone_does_not_carry_the_finding() -> None:
    """§2: HISTORY only feeds clinical context."""
    reading = read("HISTORY: ?calcification in the calf.\nFINDINGS: Normal.")
    assert not reading.finding_counts


def test_comparison_is_ignored_for_the_finding() -> None:
    reading = read("COMPARISON: prior film showing calcification.\nFINDINGS: Normal soft tissues.")
    assert not reading.finding_counts


def test_addendum_negates() -> None:
    """§6.18: the addendum holds where it negates the findings."""
    reading = read(
        "FINDINGS: Calcification posterior to the knee.\n"
        "ADDENDUM: On review, this is a fabella; no soft tissue calcification."
    )
    assert not reading.finding_counts


def test_addendum_adds() -> None:
    """§6.18: the addendum holds where it adds the finding."""
    reading = read(
        "FINDINGS: No soft tissue calcification.\nAddendum, 16:40: faint calcification in the calf."
    )
    assert reading.finding_counts


def test_addendum_resolves() -> None:
    reading = read(
        "FINDINGS: Calcification in the calf.\nADDENDUM: The calcification has resolved on the later film."
    )
    assert not reading.finding_counts


def test_label_side_applies_to_its_text() -> None:
    """§6.31 label included: "L FOOT:" gives the side of the finding under it."""
    reading = read("L FOOT:\nSmall calcification in the plantar soft tissues.", code="XR FOOT")
    assert reading.features.laterality.value == "left"


SPLITS = [
    ("No fracture. Calcification in the calf.", 2, "sentences at full stops"),
    ("A 5.2 cm calcification. Approx. 3 cm mass.", 2, "decimals and abbreviations do not split"),
    ("No fracture\nCalcification in the calf", 2, "a new line starting a new item"),
    ("Calcification in the\nleft calf.", 1, "a wrapped line"),
    ("1. Calcification.\n2. No fracture.", 2, "numbered items"),
]


@pytest.mark.parametrize(("text", "count"), [row[:2] for row in SPLITS], ids=[row[2] for row in SPLITS])
def test_sentence_split(text: str, count: int) -> None:
    assert len(split_sentences(text, LX.abbreviations)) == count
