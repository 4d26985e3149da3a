"""The card's one-sentence summary, < 140 characters, for the signing clinician (§6.39).

It names the finding (with its side) and the action that matters most; never the patient.
"""

from __future__ import annotations

import re

from cds_service.clinical.evaluation import Evaluation, Laterality, RuleOutcome

SIDE = {Laterality.LEFT: " L", Laterality.RIGHT: " R", Laterality.BILATERAL: " bilateral"}
ACTION_WORDS = {
    "calcium": "calcium",
    "phosphate": "phosphate",
    "creatinine": "creatinine",
    "albumin": "albumin",
    "pth": "PTH",
    "vitamin-d": "vitamin D",
    "mri": "MRI",
    "ct": "CT",
    "us": "ultrasound",
    "referral-nephrology": "nephrology referral",
    "referral-endocrinology": "endocrinology referral",
    "referral-sarcoma": "sarcoma service referral",
}
LIMIT = 139


REGIONS = (
    "calf",
    "shin",
    "thigh",
    "knee",
    "ankle",
    "foot",
    "heel",
    "toe",
    "hip",
    "buttock",
    "gluteal",
    "femur",
    "tibia",
    "fibula",
    "popliteal",
    "leg",
    "lower limb",
)
_REGION = re.compile(r"\b(" + "|".join(REGIONS) + r")s?\b", re.IGNORECASE)


def region(evaluation: Evaluation) -> str:
    """Where the finding is, in the report's own region word (sentence first, then the exam)."""
    reading = evaluation.reading
    for text in (*reading.triggering_sentences, *reading.exam_texts, reading.exam or ""):
        found = _REGION.search(text)
        if found:
            return found.group(1).lower()
    return "leg"


def finding_words(evaluation: Evaluation) -> str:
    side = SIDE.get(evaluation.reading.features.laterality, "")
    return f"Soft-tissue calcification{side} {region(evaluation)}"


def _actions(rule: RuleOutcome) -> str:
    words = [ACTION_WORDS.get(s.test, s.test) for s in rule.suggestions]
    if not words:
        return ""
    if rule.selection_behavior == "at-most-one":
        return " or ".join(words)
    return ", ".join(words)


def card_summary(evaluation: Evaluation, rule: RuleOutcome) -> str:
    finding = finding_words(evaluation)
    actions = _actions(rule)
    match rule.rule_id:
        case "CalcRedFlags":
            lead = "red flags for a tumour"
            text = f"{finding} with {lead}: " + (actions or "review urgently")
        case "CalcMetabolicAbnormal":
            text = f"{finding} with abnormal mineral metabolism: " + (actions or "see labs")
        case "CalcMetabolicWorkup":
            text = f"{finding}: check {actions}"
        case "CalcFurtherImaging":
            text = f"Non-specific s{finding[1:]}: consider {actions or 'further imaging'}"
        case _:
            text = f"{finding} with a benign pattern: no further evaluation if asymptomatic"
    return text if len(text) <= LIMIT else text[: LIMIT - 1].rstrip(" ,") + "…"
