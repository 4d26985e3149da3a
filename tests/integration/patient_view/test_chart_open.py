"""Chart-open (patient-view) with full prefetch: the right cards, once, naming their report; no
nagging after results, orders or feedback (design.md decision 8); every withholding audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import respx

from cds_service.cdshooks.prefetch import render_template, repeated_parameters
from tests.integration.patient_view.conftest import (
    PATIENT_VIEW_SCENARIOS,
    SERVICE_ID,
    ChartOpen,
    feedback_item,
    report_of,
    scenario,
    topic,
)

FULL_PREFETCH = [name for name in PATIENT_VIEW_SCENARIOS if name != "patient-view-sandbox"]
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# ------------------------------------------------------------------ discovery


def test_discovery_lists_patient_view_with_2_0_only_prefetch(chart: ChartOpen) -> None:
    services = {s["id"]: s for s in chart.client.get("/cds-services").json()["services"]}
    service = services[SERVICE_ID]
    assert service["hook"] == "patient-view"
    assert set(service["prefetch"]) == {"patient", "reports", "labs", "conditions", "orders"}
    for template in service["prefetch"].values():
        assert not repeated_parameters(template), template  # the sandbox merges repeated parameters
        assert "today()" not in template and "date=" not in template.split("?")[-1].replace("_sort=-date", "")
        assert render_template(template, {"patientId": "p1", "userId": "Practitioner/u1"}) is not None


def test_the_reports_template_asks_for_recent_radiology_reports_newest_first(chart: ChartOpen) -> None:
    services = {s["id"]: s for s in chart.client.get("/cds-services").json()["services"]}
    query = dict(parse_qsl(urlsplit(services[SERVICE_ID]["prefetch"]["reports"]).query))
    assert urlsplit(services[SERVICE_ID]["prefetch"]["reports"]).path == "DiagnosticReport"
    assert query["patient"] == "{{context.patientId}}"
    assert query["category"] == "http://terminology.hl7.org/CodeSystem/v2-0074|RAD"
    assert query["_sort"] == "-date" and int(query["_count"]) >= 3


# ------------------------------------------------------------------ every scenario


@pytest.mark.parametrize("name", FULL_PREFETCH)
def test_scenario_cards_come_from_the_expected_reports(chart: ChartOpen, name: str) -> None:
    loaded = scenario(name)
    with respx.mock(assert_all_mocked=True) as fhir:
        cards = chart.cards(loaded.request())
        assert not fhir.calls, "full prefetch must not query the FHIR server"
    assert tuple(sorted(topic(c) for c in cards)) == loaded.expected.topics, loaded.expected.description
    assert {topic(c): c["indicator"] for c in cards} == dict(loaded.expected.indicators)
    assert sorted((report_of(c), topic(c)) for c in cards) == sorted(loaded.expected.report_topics)
    codes = {
        coding["code"]
        for c in cards
        for s in c.get("suggestions", [])
        for coding in s["actions"][0]["resource"]["code"]["coding"]
    }
    assert set(loaded.expected.suggestion_codes) <= codes


@pytest.mark.parametrize("name", FULL_PREFETCH)
def test_each_card_names_its_report_date_and_exam(chart: ChartOpen, name: str) -> None:
    loaded = scenario(name)
    reports = {r["id"]: r for r in loaded.resources() if r["resourceType"] == "DiagnosticReport"}
    for card in chart.cards(loaded.request()):
        report = reports[report_of(card)]
        day = report["effectiveDateTime"][:10]
        assert card["detail"].startswith(f"From the report of {day} (")
        assert report["code"]["text"].split()[0] in card["detail"].splitlines()[0]
        assert len(card["summary"]) < 140 and day in card["summary"]
        assert card["uuid"] and card["source"]["label"]
        for suggestion in card.get("suggestions", []):
            reasons = suggestion["actions"][0]["resource"]["reasonReference"]
            assert f"DiagnosticReport/{report['id']}" in [reason["reference"] for reason in reasons]


def test_cards_are_ordered_newest_report_first(chart: ChartOpen) -> None:
    cards = chart.cards(scenario("patient-view-several-reports").request())
    assert [report_of(c) for c in cards] == ["pv3-report-thigh", "pv3-report-ankle"]


# ------------------------------------------------------------------ once, and not again after feedback


def test_open_work_up_shows_its_cards_once_and_not_again_after_feedback(chart: ChartOpen) -> None:
    body = scenario("patient-view-open-workup").request()
    first = chart.cards(body)
    assert sorted(topic(c) for c in first) == ["CalcFurtherImaging", "CalcMetabolicWorkup"]
    workup = next(c for c in first if topic(c) == "CalcMetabolicWorkup")
    imaging = next(c for c in first if topic(c) == "CalcFurtherImaging")

    chart.feedback(feedback_item(workup, "accepted"))
    assert [topic(c) for c in chart.cards(body)] == ["CalcFurtherImaging"]

    chart.feedback(feedback_item(imaging, "overridden"))
    again = chart.open(body | {"hookInstance": "b9b5f2a4-3c0e-4a53-9d2c-0c2d3b9a1e01"})
    assert again.status_code == 200 and again.json() == {"cards": []}
    record = chart.last
    assert record.outcome == "suppressed"
    answered = {
        (s["reportId"], s["topic"]) for s in record.suppressions if "answered by feedback" in s["reason"]
    }
    assert answered == {("pv1-report-knee", "CalcMetabolicWorkup"), ("pv1-report-knee", "CalcFurtherImaging")}


def test_an_overridden_card_stays_away_for_the_suppress_days_only(
    make_chart_open: Callable[..., ChartOpen],
) -> None:
    chart = make_chart_open(suppress_days=30)
    body = scenario("patient-view-overridden").request()
    (card,) = chart.cards(body)
    long_ago = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
    chart.feedback(feedback_item(card, "overridden", outcomeTimestamp=long_ago))
    assert [topic(c) for c in chart.cards(body)] == ["CalcRedFlags"], "feedback older than 30 days"
    chart.feedback(feedback_item(card, "overridden"))
    assert chart.cards(body) == []
    assert chart.last.suppressions == (
        {
            "reportId": "pv5-report-knee",
            "topic": "CalcRedFlags",
            "reason": "answered by feedback for this report within 30 days",
        },
    )


def test_suppress_days_zero_shows_an_answered_card_again(make_chart_open: Callable[..., ChartOpen]) -> None:
    chart = make_chart_open(suppress_days=0)
    body = scenario("patient-view-overridden").request()
    (card,) = chart.cards(body)
    chart.feedback(
        feedback_item(
            card, "overridden", outcomeTimestamp=(datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        )
    )
    assert [topic(c) for c in chart.cards(body)] == ["CalcRedFlags"]


def test_feedback_on_the_report_sign_card_of_the_same_report_also_counts(chart: ChartOpen) -> None:
    loaded = scenario("patient-view-overridden")
    report = next(r for r in loaded.resources() if r["resourceType"] == "DiagnosticReport")
    prefetch = loaded.request()["prefetch"]
    signing = {
        "hook": "report-sign",
        "hookInstance": "7f0d5a8e-2f57-4a43-8f0e-3c8f2a6d4b11",
        "context": {
            "userId": "Practitioner/rad-1",
            "patientId": loaded.patient_id,
            "reportId": report["id"],
            "category": "RAD",
            "status": "final",
        },
        "prefetch": {
            "patient": prefetch["patient"],
            "report": report,
            "labs": prefetch["labs"],
            "conditions": prefetch["conditions"],
            "orders": prefetch["orders"],
        },
    }
    (signed_card,) = chart.client.post("/cds-services/calcification-report-sign", json=signing).json()[
        "cards"
    ]
    response = chart.client.post(
        "/cds-services/calcification-report-sign/feedback",
        json={"feedback": [feedback_item(signed_card, "overridden")]},
    )
    assert response.status_code == 200
    assert chart.cards(loaded.request()) == []


# ------------------------------------------------------------------ results, orders, no open suggestion


def test_work_up_complete_gets_no_cards_and_every_suppression_is_recorded(chart: ChartOpen) -> None:
    response = chart.open(scenario("patient-view-workup-complete").request())
    assert response.status_code == 200 and response.json() == {"cards": []}
    record = chart.last
    assert record.outcome == "suppressed"
    by_topic = {(s["topic"], s.get("suggestion")): s["reason"] for s in record.suppressions}
    assert by_topic[("CalcMetabolicWorkup", "creatinine")].startswith(
        "resulted after the report (Observation/pv4-obs-cr, "
    )
    assert by_topic[("CalcMetabolicWorkup", None)].startswith("no open suggestion: creatinine resulted after")
    assert by_topic[("CalcFurtherImaging", "us")].startswith("already ordered (ServiceRequest/pv4-order-us")
    assert by_topic[("CalcFurtherImaging", None)].startswith("no open suggestion: us already ordered")
    assert all(s["reportId"] == "pv4-report-calf" for s in record.suppressions)
    assert {f.rule_id for f in record.rule_firings} == {"CalcMetabolicWorkup", "CalcFurtherImaging"}
    (evaluation,) = record.evaluations
    workup = next(rule for rule in evaluation["rules"] if rule["ruleId"] == "CalcMetabolicWorkup")
    assert workup["suppressed"] and workup["suggestions"] == []


def test_a_lab_resulted_after_the_report_is_not_suggested_again(chart: ChartOpen) -> None:
    """A preliminary albumin after the report cannot be used (§3), yet the test has resulted (§6.37)."""
    body = scenario("patient-view-open-workup").request()
    report_day = datetime.fromisoformat(
        body["prefetch"]["reports"]["entry"][1]["resource"]["effectiveDateTime"]
    )
    albumin_after = {
        "resourceType": "Observation",
        "id": "pv1-obs-alb",
        "status": "preliminary",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1751-7"}]},
        "subject": {"reference": "Patient/pv1-patient"},
        "effectiveDateTime": (report_day + timedelta(days=2)).isoformat(),
        "valueQuantity": {
            "value": 4.1,
            "unit": "g/dL",
            "system": "http://unitsofmeasure.org",
            "code": "g/dL",
        },
    }
    body["prefetch"]["labs"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": albumin_after}],
    }
    albumin_day = str(albumin_after["effectiveDateTime"])[:10]
    cards = chart.cards(body)
    workup = next(c for c in cards if topic(c) == "CalcMetabolicWorkup")
    labels = [s["label"] for s in workup["suggestions"]]
    assert labels == ["Calcium", "Phosphate", "Creatinine"]
    assert [s.get("isRecommended", False) for s in workup["suggestions"]] == [True, False, False]
    assert {
        "reportId": "pv1-report-knee",
        "topic": "CalcMetabolicWorkup",
        "suggestion": "albumin",
        "reason": f"resulted after the report (Observation/pv1-obs-alb, {albumin_day})",
    } in chart.last.suppressions


def test_an_ordered_test_is_withheld_and_recorded(chart: ChartOpen) -> None:
    body = scenario("patient-view-open-workup").request()
    order = {
        "resourceType": "ServiceRequest",
        "id": "pv1-order-ca",
        "status": "active",
        "intent": "order",
        "code": {"coding": [{"system": "http://loinc.org", "code": "17861-6"}]},
        "subject": {"reference": "Patient/pv1-patient"},
        "authoredOn": (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="seconds"),
    }
    body["prefetch"]["orders"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": order}],
    }
    workup = next(c for c in chart.cards(body) if topic(c) == "CalcMetabolicWorkup")
    assert [s["label"] for s in workup["suggestions"]] == ["Phosphate", "Creatinine"]
    withheld = [s for s in chart.last.suppressions if s.get("suggestion") == "calcium"]
    assert withheld and withheld[0]["reason"].startswith("already ordered (ServiceRequest/pv1-order-ca")


# ------------------------------------------------------------------ which reports


def test_reports_outside_the_window_or_not_final_give_no_cards(chart: ChartOpen) -> None:
    assert chart.cards(scenario("patient-view-outside-window").request()) == []
    record = chart.last
    assert record.outcome == "no-finding"
    assert "of the last 90 days" in (record.outcome_reason or "")
    assert record.evaluations == ()


def test_a_wider_window_reaches_the_older_report(make_chart_open: Callable[..., ChartOpen]) -> None:
    chart = make_chart_open(patient_view_window_days=150)
    cards = chart.cards(scenario("patient-view-outside-window").request())
    assert {report_of(c) for c in cards} == {"pv2-report-old"}, "the preliminary report stays out (§1)"


def test_only_the_newest_reports_with_the_finding_are_shown(chart: ChartOpen) -> None:
    chart.cards(scenario("patient-view-several-reports").request())
    record = chart.last
    assert [e["reportId"] for e in record.evaluations] == [
        "pv3-report-thigh",
        "pv3-report-ankle",
        "pv3-report-calf",
        "pv3-report-foot",
    ]
    assert {
        "reportId": "pv3-report-foot",
        "topic": None,
        "reason": "not among the 3 newest reports that mention the finding",
    } in record.suppressions
    assert {c.report_id for c in record.cards} == {"pv3-report-thigh", "pv3-report-ankle"}
    assert ("CalcBenignPattern", "pv3-report-calf", "would-fire") in {
        (f.rule_id, f.report_id, f.status) for f in record.rule_firings
    }


def test_max_reports_is_a_setting(make_chart_open: Callable[..., ChartOpen]) -> None:
    chart = make_chart_open(patient_view_max_reports=4)
    cards = chart.cards(scenario("patient-view-several-reports").request())
    assert [report_of(c) for c in cards] == ["pv3-report-thigh", "pv3-report-ankle", "pv3-report-foot"]
    one = make_chart_open(patient_view_max_reports=1)
    assert [report_of(c) for c in one.cards(scenario("patient-view-several-reports").request())] == [
        "pv3-report-thigh"
    ]


def test_out_of_scope_and_other_patients_reports_are_not_read(chart: ChartOpen) -> None:
    body = scenario("patient-view-open-workup").request()
    stranger = dict(body["prefetch"]["reports"]["entry"][1]["resource"])
    stranger |= {"id": "someone-else", "subject": {"reference": "Patient/another-patient"}}
    body["prefetch"]["reports"]["entry"].append({"resource": stranger})
    cards = chart.cards(body)
    assert {report_of(c) for c in cards} == {"pv1-report-knee"}
    read = [e["reportId"] for e in chart.last.evaluations]
    assert read == ["pv1-report-chest", "pv1-report-knee"]
    assert chart.last.evaluations[0]["inScope"] is False


# ------------------------------------------------------------------ context and request


def test_epic_trigger_details_are_recorded_never_required(chart: ChartOpen) -> None:
    body = scenario("patient-view-open-workup").request()
    assert chart.cards(body)
    assert chart.last.extension == body["extension"]
    body.pop("extension")
    body["context"].pop("encounterId")
    assert chart.cards(body)
    assert chart.last.extension is None


@pytest.mark.parametrize(
    ("field", "change"),
    [
        pytest.param("context.patientId", lambda c: c.pop("patientId"), id="patientId required"),
        pytest.param("context.userId", lambda c: c.pop("userId"), id="userId required"),
        pytest.param("context.userId", lambda c: c.update(userId="gp-1"), id="userId is Type/id"),
    ],
)
def test_context_errors_are_400(
    chart: ChartOpen, field: str, change: Callable[[dict[str, object]], object]
) -> None:
    body = scenario("patient-view-open-workup").request()
    change(body["context"])
    response = chart.open(body)
    assert response.status_code == 400
    assert field in response.json()["issue"][0]["diagnostics"]


def test_a_report_sign_call_is_refused_here(chart: ChartOpen) -> None:
    body = scenario("patient-view-open-workup").request() | {"hook": "report-sign"}
    assert chart.open(body).status_code == 400


def test_a_repeated_hook_instance_gets_the_recorded_answer(chart: ChartOpen) -> None:
    body = scenario("patient-view-open-workup").request()
    first = chart.open(body).json()
    chart.feedback(*(feedback_item(card) for card in first["cards"]))
    assert chart.open(body).json() == first  # decision 4: the same answer, not a new evaluation
