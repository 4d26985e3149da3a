"""Every fixture scenario through the real HTTP endpoint: the cards the clinical spec predicts.

One uvicorn server runs for the module (CDS_AUTH=off, a migrated SQLite audit store). Each
scenario is loaded as of now (dates shifted, see cds_service.fixtures) and posted with full
prefetch; the visible topics and indicators must equal expected.json, and every card must be
well formed for the clinician: short summary, uuid, the report's words and every lab value with
its date in the detail, draft ServiceRequests that validate as FHIR R4.
"""

from __future__ import annotations

import base64
import html
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.api.app import create_app
from cds_service.audit.migrate import upgrade_database
from cds_service.fixtures import Scenario, load_scenario, scenario_names, shift_dates
from cds_service.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_ROOT / "fhir_fixtures"
SERVICE_PATH = "/cds-services/calcification-report-sign"
#: No FHIR server listens here: with full prefetch only a Binary by url is ever fetched.
UNREACHABLE_FHIR = "http://127.0.0.1:9/fhir/R4"
LONG_RECENCY_CODES = {"2731-8", "14866-8", "62292-8", "1989-3", "14635-7", "83070-3"}
KNOWN_UNITS = {
    "mg/dL",
    "mmol/L",
    "umol/L",
    "pg/mL",
    "ng/L",
    "pmol/L",
    "g/dL",
    "g/L",
    "ng/mL",
    "nmol/L",
    "mL/min/{1.73_m2}",
}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ARTIFACT_TITLE = "Soft-tissue calcification on lower-limb radiographs"  # clinical-rules.md §0, §6.39
OVERRIDE_REASONS = {"action-completed", "cds-not-applicable", "patient-refuses", "need-more-info"}
GUIDANCE_URLS = {  # terminology.md, "Guidance to cite"
    "https://kdigo.org/guidelines/ckd-mbd/",
    "https://acsearch.acr.org/list",
    "https://www.nice.org.uk/guidance/ng12",
    "https://doi.org/10.1056/NEJMoa2102953",
}


@contextmanager
def running_service(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free 127.0.0.1 port in a background thread; yields its URL."""
    upgrade_database(settings.database_url)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()


def service_settings(folder: Path, **overrides: Any) -> Settings:
    """Local-development settings (CDS_AUTH=off unless overridden) with a SQLite audit file."""
    values: dict[str, Any] = {
        "auth": "off",
        "database_url": f"sqlite:///{folder / 'audit.sqlite3'}",
        "rate_limit_per_client": 0,
    }
    return Settings(**(values | overrides))


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_service(service_settings(tmp_path_factory.mktemp("e2e-service"))) as url:
        yield url


@pytest.fixture(scope="module")
def client(service_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service_url, timeout=20.0) as http:
        yield http


@pytest.fixture(scope="module")
def answered(client: httpx.Client) -> Answers:
    """Each scenario posted once (lazily), shared by the checks below."""
    return Answers(client)


class Answers(dict[str, tuple[Scenario, list[dict[str, Any]]]]):
    def __init__(self, client: httpx.Client) -> None:
        super().__init__()
        self._client = client

    def __missing__(self, name: str) -> tuple[Scenario, list[dict[str, Any]]]:
        scenario = scenario_now(name)
        self[name] = (scenario, post_scenario(self._client, scenario))
        return self[name]


def scenario_now(name: str) -> Scenario:
    return load_scenario(name, datetime.now(UTC), root=FIXTURES, fhir_server=UNREACHABLE_FHIR)


def topic(card: dict[str, Any]) -> str:
    return str(card["source"]["topic"]["code"])


def post_scenario(client: httpx.Client, scenario: Scenario) -> list[dict[str, Any]]:
    response = client.post(SERVICE_PATH, json=scenario.request())
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


SCENARIOS = scenario_names(FIXTURES)


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 18


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_topics_and_indicators(answered: Answers, name: str) -> None:
    scenario, cards = answered[name]
    assert tuple(sorted(topic(card) for card in cards)) == scenario.expected.topics, scenario.expected.spec
    assert {topic(card): card["indicator"] for card in cards} == dict(scenario.expected.indicators)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_cards_are_well_formed(answered: Answers, name: str) -> None:
    scenario, cards = answered[name]
    for card in cards:
        assert len(card["summary"]) < 140
        uuid.UUID(card["uuid"])
        assert card["source"]["label"] == ARTIFACT_TITLE
        assert "&\\#" not in card["detail"], "an HTML entity broken by Markdown escaping shows as '&#...;'"
        assert {reason["code"] for reason in card["overrideReasons"]} <= OVERRIDE_REASONS
        assert all(link["type"] == "absolute" and link["url"] in GUIDANCE_URLS for link in card["links"])
        suggestions = card.get("suggestions", [])
        for suggestion in suggestions:
            assert_draft_order(suggestion, scenario)
        if suggestions:
            expected_behaviour = "at-most-one" if topic(card) == "CalcFurtherImaging" else "any"
            assert card["selectionBehavior"] == expected_behaviour
            assert [s.get("isRecommended", False) for s in suggestions] == [True] + [False] * (
                len(suggestions) - 1
            )


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_suggestion_codes(answered: Answers, name: str) -> None:
    scenario, cards = answered[name]
    codes = {code for card in cards for code in suggested_codes(card)}
    assert set(scenario.expected.suggestion_codes) <= codes
    assert not set(scenario.expected.absent_suggestion_codes) & codes


@pytest.mark.parametrize("name", SCENARIOS)
def test_detail_quotes_the_report_and_dates_every_value(answered: Answers, name: str) -> None:
    scenario, cards = answered[name]
    for card in cards:
        detail = plain(card["detail"])
        assert any(sentence in detail for sentence in report_sentences(scenario)), detail
        for value, when in recent_lab_values(scenario):
            assert f"{value:g}" in detail and when in detail, (value, when, detail)
        for line in detail.splitlines():
            if re.match(r"- .* \d+(\.\d+)? \S+/\S+", line) and "product" not in line:
                assert DATE.search(line), line


def assert_draft_order(suggestion: dict[str, Any], scenario: Scenario) -> None:
    uuid.UUID(suggestion["uuid"])
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    resource = action["resource"]
    assert resource["resourceType"] == "ServiceRequest"
    ServiceRequest.model_validate(resource)
    assert (resource["status"], resource["intent"]) == ("draft", "proposal")
    assert resource["subject"]["reference"] == f"Patient/{scenario.patient_id}"
    reasons = [ref["reference"] for ref in resource.get("reasonReference", [])]
    assert f"DiagnosticReport/{scenario.report_id}" in reasons


def suggested_codes(card: dict[str, Any]) -> set[str]:
    codes = set()
    for suggestion in card.get("suggestions", []):
        for action in suggestion["actions"]:
            for coding in action["resource"].get("code", {}).get("coding", []):
                codes.add(coding["code"])
    return codes


def plain(markdown: str) -> str:
    """The detail's text without Markdown escapes and HTML entities, whitespace collapsed."""
    unescaped = html.unescape(re.sub(r"\\(.)", r"\1", markdown))
    return "\n".join(" ".join(line.split()) for line in unescaped.splitlines())


def report_sentences(scenario: Scenario) -> list[str]:
    """Sentences of the report's conclusion and inline forms, without their final stop."""
    report = scenario.request()["prefetch"]["report"]
    texts = [report.get("conclusion", "")]
    for form in report.get("presentedForm", []):
        if "data" in form:
            texts.append(re.sub(r"<[^>]+>", " ", base64.b64decode(form["data"]).decode("utf-8")))
    sentences = []
    for text in texts:
        for line in text.splitlines():
            body = line.split(":", 1)[1] if re.match(r"^[A-Z ,0-9]+:", line) else line
            sentences += [" ".join(s.split()) for s in re.split(r"(?<=[a-z0-9)])\.\s", body)]
    return [s.rstrip(".") for s in sentences if len(s) >= 20]


def recent_lab_values(scenario: Scenario) -> list[tuple[float, str]]:
    """(value as written, date) of the newest recent usable Observation per LOINC code."""
    newest: dict[str, dict[str, Any]] = {}
    for entry in scenario.request()["prefetch"]["labs"]["entry"]:
        observation = entry["resource"]
        code = observation["code"]["coding"][0]["code"]
        if usable_and_recent(observation, code) and code not in newest:
            newest[code] = observation
    return [(obs["valueQuantity"]["value"], obs["effectiveDateTime"][:10]) for obs in newest.values()]


def usable_and_recent(observation: dict[str, Any], code: str) -> bool:
    window = timedelta(days=365 if code in LONG_RECENCY_CODES else 90)
    measured = datetime.fromisoformat(observation["effectiveDateTime"])
    return (
        observation["status"] in ("final", "amended", "corrected")
        and observation["valueQuantity"].get("code") in KNOWN_UNITS
        and datetime.now(UTC) - measured <= window
    )


def test_dates_are_shifted_by_now_minus_anchor() -> None:
    shift = timedelta(days=3, hours=2)
    shifted = shift_dates(
        {"birthDate": "2014-06-14", "effectiveDateTime": "2026-11-20T07:30:00Z", "id": "2026-11-20x"}, shift
    )
    assert shifted == {
        "birthDate": "2014-06-17",
        "effectiveDateTime": "2026-11-23T09:30:00Z",
        "id": "2026-11-20x",
    }


def test_a_loaded_scenario_is_dated_as_of_now_with_the_given_fhir_server() -> None:
    later = datetime(2027, 5, 30, 12, 0, tzinfo=UTC)  # 181 days after the anchor
    child = load_scenario("child-age-12", later, root=FIXTURES, fhir_server="http://fhir.test/R4/")
    body = child.request()
    assert body["fhirServer"] == "http://fhir.test/R4"
    assert body["prefetch"]["labs"]["entry"][0]["fullUrl"].startswith("http://fhir.test/R4/Observation/")
    assert body["prefetch"]["labs"]["entry"][0]["resource"]["effectiveDateTime"].startswith("2027-05-20")
    assert body["hookInstance"] != child.request()["hookInstance"]
    assert "prefetch" not in child.request_without_prefetch()
