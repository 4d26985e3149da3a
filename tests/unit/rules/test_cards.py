"""Card rendering (§4 "Every card's detail ...", §6.9, §6.15, §6.39; issue 3 item 5): summary,
detail, draft ServiceRequests, overrideReasons, links, extension, escaping."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.evaluation import Evaluation
from tests.unit.clinical.builders import (
    ALBUMIN,
    CALCIUM_TOTAL,
    CREATININE,
    PHOSPHATE,
    observation,
)
from tests.unit.rules.scenario import ARTIFACT, TOPIC_SYSTEM, card_json, labs, rendered, run

RED = "CalcRedFlags"
LARGE = "Soft tissue calcification 6 cm in the {side}calf."
NON_ADHERENCE = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
LOINC, CPT, SNOMED = "http://loinc.org", "http://www.ama-assn.org/go/cpt", "http://snomed.info/sct"


def red_flag_card(side: str = "left ", code: str = "XR LOWER LEG") -> dict[str, Any]:
    return card_json(run(LARGE.format(side=side), code=code), RED)


def resources(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["actions"][0]["resource"] for s in card.get("suggestions", [])]


def codes(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in resource["code"].get("coding", [])]


# ------------------------------------------------------------------ summary (§4, §6.39)


@pytest.mark.parametrize(
    ("text", "rule_id", "words"),
    [
        pytest.param(
            LARGE.format(side="left "), RED, ["L calf", "MRI"], id="§6.39 summary names finding, side, action"
        ),
        pytest.param(
            "Soft tissue calcification in the right thigh.",
            "CalcFurtherImaging",
            ["R thigh", "ultrasound"],
            id="§6.39 summary of CalcFurtherImaging names the side and the imaging",
        ),
    ],
)
def test_summary(text: str, rule_id: str, words: list[str]) -> None:
    summary = card_json(run(text), rule_id)["summary"]
    assert len(summary) < 140
    for word in words:
        assert word in summary
    assert "Soft-tissue calcification" in summary or "soft-tissue calcification" in summary


def test_summary_workup_names_the_labs() -> None:
    """§6.39 e.g. 'Soft-tissue calcification L calf: check calcium, phosphate, creatinine'."""
    evaluation = run(
        "Soft tissue calcification in the left calf.", observations=labs(without=["ca", "phos", "cr", "egfr"])
    )
    summary = card_json(evaluation, "CalcMetabolicWorkup")["summary"]
    assert summary.startswith("Soft-tissue calcification L calf: check calcium, phosphate, creatinine")
    assert len(summary) < 140


def test_summary_never_longer_than_139_and_no_patient_name() -> None:
    """§4 summary < 140 characters; §6.39 no patient name."""
    text = (
        "Multiple stippled soft tissue calcifications 7 cm deep to the fascia of the left calf with an "
        "associated soft tissue mass, cortical erosion, enlarging, ossific, suspicious for sarcoma."
    )
    name = {"name": [{"family": "Testperson", "given": ["Alicia"]}]}
    no_labs = labs(without=["ca", "phos", "cr", "egfr", "alb", "pth", "vitd"])
    evaluation = run(text, observations=no_labs, patient_fields=name)
    assert len(rendered(evaluation)) == 2  # red flags and work-up
    for rendered_card in rendered(evaluation):
        assert len(rendered_card.card.summary) < 140
        assert "Testperson" not in rendered_card.card.summary and "Alicia" not in rendered_card.card.summary
        assert "Testperson" not in (rendered_card.card.detail or "")


def test_source_label_and_topic() -> None:
    """§6.39 source.label is the artifact's title; §4 topic code in the service's topic system."""
    card = red_flag_card()
    assert card["source"]["label"] == ARTIFACT.title
    assert card["source"]["topic"]["system"] == TOPIC_SYSTEM
    assert card["source"]["topic"]["code"] == RED
    assert card["indicator"] == "warning"


# ------------------------------------------------------------------ detail (§4)


def metabolic_evaluation() -> Evaluation:
    observations = labs(
        observation(CALCIUM_TOTAL, 2.7, "mmol/L", obs_id="ca2", days=3),
        observation(CREATININE, 1.4, obs_id="cr2", days=4),
        observation(PHOSPHATE, 4.0, days=120, obs_id="p2"),
        observation(ALBUMIN, 42, "kg", obs_id="alb2"),
        without=["ca", "cr", "egfr", "phos", "alb"],
    )
    return run("Soft tissue calcification in the left calf.", observations=observations)


def test_detail_quotes_the_triggering_sentence() -> None:
    """§4 detail states the report sentence(s) that triggered it."""
    detail = card_json(metabolic_evaluation(), "CalcMetabolicAbnormal")["detail"]
    assert "> Soft tissue calcification in the left calf." in detail


def test_detail_every_lab_with_date_and_unit() -> None:
    """§4 each lab value used with unit and date; never a value without its date."""
    detail = card_json(metabolic_evaluation(), "CalcMetabolicAbnormal")["detail"]
    assert "Calcium, total 10.82 mg/dL (2026-11-27;" in detail
    assert "Creatinine 1.4 mg/dL (2026-11-26" in detail
    assert "PTH, intact 40 pg/mL (2026-11-20" in detail
    for line in detail.splitlines():
        if line.startswith("- ") and any(
            unit in line for unit in ("mg/dL", "pg/mL", "ng/mL", "g/dL", "1.73_m2")
        ):
            assert "2026-" in line, line


def test_detail_says_converted_and_computed() -> None:
    """§4 detail says whether a value was converted or computed (§3 eGFR 'computed')."""
    detail = card_json(metabolic_evaluation(), "CalcMetabolicAbnormal")["detail"]
    assert "converted from 2.7 mmol/L" in detail
    assert "eGFR" in detail and "computed" in detail and "CKD-EPI 2021" in detail


def test_detail_says_missing_stale_unusable() -> None:
    """§4 detail states what was missing or stale; §3/§6.1 an unknown unit is said, never guessed."""
    detail = card_json(metabolic_evaluation(), "CalcMetabolicAbnormal")["detail"]
    assert "**Missing, stale or unusable**" in detail
    assert "no recent usable phosphate" in detail
    assert "stale" in detail and "older than 90 days" in detail
    assert "unknown unit" in detail


def test_detail_mechanism_and_artifact() -> None:
    """§4 detail states the suspected mechanism (§4.1) and the artifact id and version."""
    detail = card_json(metabolic_evaluation(), "CalcMetabolicAbnormal")["detail"]
    assert "**Suspected mechanism**: metastatic" in detail
    assert f"Knowledge artifact {ARTIFACT.id} {ARTIFACT.version}" in detail


def test_detail_of_a_rule_with_every_suggestion_withheld() -> None:
    """§6.13 CalcMetabolicAbnormal shows its detail with no suggestions."""
    card = card_json(metabolic_evaluation(), "CalcMetabolicAbnormal")
    assert "suggestions" not in card and "selectionBehavior" not in card
    assert "calcium above the upper limit" in card["detail"]


def test_report_text_escaped() -> None:
    """HTML and Markdown in the report's text are escaped in the detail."""
    text = (
        'Soft tissue calcification in the calf <img src=x onerror="alert(1)"> [click](http://evil) **bold**'
    )
    detail = card_json(run(text), "CalcFurtherImaging")["detail"]
    assert "<img" not in detail and "&lt;img" in detail
    assert "[click](http://evil)" not in detail and "\\[click\\]" in detail
    assert "**bold**" not in detail


# ------------------------------------------------------------------ draft ServiceRequests


def test_draft_service_request_fields() -> None:
    """Issue 3 item 5: status draft, intent proposal, subject, code, category, reasonReference."""
    for resource in resources(red_flag_card()):
        assert resource["resourceType"] == "ServiceRequest"
        assert resource["status"] == "draft" and resource["intent"] == "proposal"
        assert resource["subject"] == {"reference": "Patient/p1"}
        assert resource["reasonReference"][0]["reference"] == "DiagnosticReport/r1"
        assert resource["code"]["text"]
        assert resource["category"][0]["coding"][0]["system"] == SNOMED


@pytest.mark.parametrize(
    ("side", "code", "mri", "ct"),
    [
        pytest.param(
            "left ", "XR LOWER LEG", (LOINC, "36291-3"), (LOINC, "36452-1"), id="§6.9 MRI/CT left LOINC"
        ),
        pytest.param(
            "right ", "XR LOWER LEG", (LOINC, "36333-3"), (LOINC, "36454-7"), id="§6.9 MRI/CT right LOINC"
        ),
        pytest.param(
            "",
            "XR BOTH LOWER LEGS",
            (LOINC, "36289-7"),
            (LOINC, "36449-7"),
            id="§6.15 MRI/CT bilateral LOINC",
        ),
        pytest.param(
            "",
            "XR LOWER LEG",
            (CPT, "73720"),
            (LOINC, "30625-8"),
            id="§6.9 MRI side unknown: CPT 73720 + text",
        ),
    ],
)
def test_imaging_codes_by_laterality(side: str, code: str, mri: tuple[str, str], ct: tuple[str, str]) -> None:
    text = (
        f"Ossific soft tissue lesion 6 cm in the {side}calf."
        if side
        else "Bilateral ossific lesions 6 cm in the calves."
    )
    if not side and code == "XR LOWER LEG":
        text = "Ossific soft tissue lesion 6 cm in the calf."
    card = card_json(run(text, code=code), RED)
    by_label = {r["code"]["text"].split(",")[0]: r for r in resources(card)}
    mri_resource = by_label["MRI lower extremity without and with IV contrast"]
    assert codes(mri_resource) == [mri]
    assert codes(by_label["CT lower extremity without contrast"]) == [ct]
    assert mri_resource["category"][0]["coding"][0]["code"] == "363679005"
    assert mri_resource["code"]["text"].startswith("MRI lower extremity")


def test_sarcoma_referral_reason_code() -> None:
    """terminology.md: referral 183545006 + reasonCode 387837005 + text naming the sarcoma service."""
    referral = next(r for r in resources(red_flag_card()) if codes(r) == [(SNOMED, "183545006")])
    reason = referral["reasonCode"][0]
    assert reason["coding"][0]["code"] == "387837005"
    assert "sarcoma" in reason["text"].lower()
    assert referral["category"][0]["coding"][0]["code"] == "3457005"


def test_lab_order_codes_and_category() -> None:
    """terminology.md lab orders use the mass-unit LOINC; category laboratory 108252007."""
    evaluation = run(observations=labs(without=["ca", "phos", "cr", "egfr", "alb"]))
    found = [codes(r)[0] for r in resources(card_json(evaluation, "CalcMetabolicWorkup"))]
    assert found == [(LOINC, "17861-6"), (LOINC, "2777-1"), (LOINC, "2160-0"), (LOINC, "1751-7")]
    for resource in resources(card_json(evaluation, "CalcMetabolicWorkup")):
        assert resource["category"][0]["coding"][0]["code"] == "108252007"


def test_one_create_action_per_suggestion_first_recommended() -> None:
    """Issue 3 item 5: one create action each; §6.39 the first suggestion is isRecommended."""
    card = red_flag_card()
    assert card["selectionBehavior"] == "any"
    assert [len(s["actions"]) for s in card["suggestions"]] == [1, 1]
    assert {s["actions"][0]["type"] for s in card["suggestions"]} == {"create"}
    assert card["suggestions"][0]["isRecommended"] is True
    assert not card["suggestions"][1].get("isRecommended")


# ------------------------------------------------------------------ override reasons, links, extension


def test_override_reasons() -> None:
    """Issue 3 item 5: the four non-adherence reason codes, each with a display."""
    reasons = red_flag_card()["overrideReasons"]
    assert [(r["system"], r["code"]) for r in reasons] == [
        (NON_ADHERENCE, "action-completed"),
        (NON_ADHERENCE, "cds-not-applicable"),
        (NON_ADHERENCE, "patient-refuses"),
        (NON_ADHERENCE, "need-more-info"),
    ]
    assert all(r["display"] for r in reasons)


@pytest.mark.parametrize(
    ("rule_id", "urls"),
    [
        pytest.param(
            RED,
            {"https://www.nice.org.uk/guidance/ng12", "https://acsearch.acr.org/list"},
            id="links: CalcRedFlags cites NICE NG12 and ACR",
        ),
        pytest.param(
            "CalcMetabolicAbnormal",
            {"https://kdigo.org/guidelines/ckd-mbd/"},
            id="links: CalcMetabolicAbnormal cites KDIGO 2017",
        ),
    ],
)
def test_links_to_cited_guidance(rule_id: str, urls: set[str]) -> None:
    evaluation = run(
        LARGE.format(side=""), observations=labs(observation(PHOSPHATE, 5.5, obs_id="p2"), without=["phos"])
    )
    links = card_json(evaluation, rule_id)["links"]
    assert urls <= {link["url"] for link in links}
    guidance = {e.url for e in ARTIFACT.evidence}
    assert all(link["url"] in guidance and link["type"] == "absolute" and link["label"] for link in links)


def test_extension_rule_and_artifact_versions() -> None:
    """Issue 3 item 5: a card extension with rule id, rule version and artifact version."""
    extension = red_flag_card()["extension"]["urn:calcification-cds:rule"]
    assert extension["ruleId"] == RED
    assert extension["ruleVersion"] == ARTIFACT.rules[RED].version
    assert extension["artifactVersion"] == ARTIFACT.version
    assert extension["artifactId"] == ARTIFACT.id
