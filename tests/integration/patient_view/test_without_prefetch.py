"""Chart-open without prefetch against a real FHIR server (../shared/tools/fhir-server), as the
CDS Hooks sandbox calls it: over HTTP, no fhirAuthorization, prefetch absent or holding only the
patient, no encounterId, userId Practitioner/COREPRACTITIONER1 (sandbox-compat.md §5, §8).

The service runs under uvicorn with CDS_AUTH=off and a SQLite audit store, so it may query any
server (design.md decision 1) and feedback suppression goes through the SQL store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cds_service.fixtures import load_scenarios, materialise_bundles
from tests.e2e.test_fixtures_http import running_service, service_settings
from tests.fhir_test_server import running_fhir_server as shared_fhir_server
from tests.integration.patient_view.conftest import (
    FEEDBACK_URL,
    FIXTURES,
    PATIENT_VIEW_SCENARIOS,
    URL,
    feedback_item,
    report_of,
    scenario,
    topic,
)

SANDBOX_ORIGIN = "http://127.0.0.1:8090"

pytestmark = [
    pytest.mark.fhirserver,
    pytest.mark.skipif(
        shutil.which("node") is None, reason="node is missing: the FHIR test server cannot run"
    ),
]


@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    running_fhir_server = shared_fhir_server()

    data = tmp_path_factory.mktemp("patient-view-fhir-data")
    materialise_bundles(load_scenarios(datetime.now(UTC), root=FIXTURES, hook="patient-view"), data)
    with running_fhir_server(data=[str(data)]) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = service_settings(tmp_path_factory.mktemp("patient-view-service"), cors_origins=SANDBOX_ORIGIN)
    with running_service(settings) as url, httpx.Client(base_url=url, timeout=30.0) as http:
        yield http


def cards_of(service: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = service.post(URL, json=body)
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def sandbox_shaped(body: dict[str, Any], prefetch_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """What the sandbox sends: no token, no encounterId, its fixed user, failed keys left out."""
    context = {"patientId": body["context"]["patientId"], "userId": "Practitioner/COREPRACTITIONER1"}
    shaped = {key: body[key] for key in ("hook", "hookInstance", "fhirServer")} | {"context": context}
    kept = {key: value for key, value in body.get("prefetch", {}).items() if key in prefetch_keys}
    return shaped | ({"prefetch": kept} if kept else {})


@pytest.mark.parametrize("name", [n for n in PATIENT_VIEW_SCENARIOS if n != "patient-view-sandbox"])
def test_without_prefetch_the_same_cards_as_with_it(service: httpx.Client, fhir_base: str, name: str) -> None:
    loaded = scenario(name, fhir_base)
    fetched = cards_of(service, loaded.request_without_prefetch())
    prefetched = cards_of(service, loaded.request())
    assert sorted((report_of(c), topic(c)) for c in fetched) == sorted(loaded.expected.report_topics)
    # §8.12: the same summary whether the data came from prefetch or from the service's own queries
    assert [c["summary"] for c in fetched] == [c["summary"] for c in prefetched]


@pytest.mark.parametrize(
    "prefetch_keys",
    [
        pytest.param((), id="prefetch absent"),
        pytest.param(("patient",), id="prefetch only the patient"),
        pytest.param(("patient", "labs"), id="reports key left out"),
    ],
)
def test_a_sandbox_shaped_call_reads_the_fhir_server(
    service: httpx.Client, fhir_base: str, prefetch_keys: tuple[str, ...]
) -> None:
    loaded = scenario("patient-view-sandbox", fhir_base)
    cards = cards_of(service, sandbox_shaped(loaded.request(), prefetch_keys))
    assert [(report_of(c), topic(c)) for c in cards] == list(loaded.expected.report_topics)
    (card,) = cards
    assert card["uuid"] and card["source"]["label"] and card["indicator"] == "info"
    assert all(s["label"] and s["uuid"] for s in card["suggestions"])


def test_the_sandbox_fixture_request_as_written(service: httpx.Client, fhir_base: str) -> None:
    loaded = scenario("patient-view-sandbox", fhir_base)
    body = loaded.request()
    assert set(body["prefetch"]) == {"patient"} and "fhirAuthorization" not in body
    assert "encounterId" not in body["context"]
    assert sorted(topic(c) for c in cards_of(service, body)) == list(loaded.expected.topics)


def test_work_up_complete_read_from_the_server_gets_no_cards(service: httpx.Client, fhir_base: str) -> None:
    loaded = scenario("patient-view-workup-complete", fhir_base)
    response = service.post(URL, json=sandbox_shaped(loaded.request()))
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_feedback_in_the_sql_store_stops_the_card_on_the_next_chart_open(
    service: httpx.Client, fhir_base: str
) -> None:
    loaded = scenario("patient-view-overridden", fhir_base)
    (card,) = cards_of(service, sandbox_shaped(loaded.request()))
    sandbox_dismissal = feedback_item(card)  # the sandbox's body: reason without display or comment
    response = service.post(FEEDBACK_URL, json={"feedback": [sandbox_dismissal]})
    assert response.status_code == 200, response.text
    assert cards_of(service, sandbox_shaped(loaded.request())) == []


def test_the_sandbox_preflight_is_answered_before_any_auth(service: httpx.Client) -> None:
    """sandbox-compat.md §8.1: OPTIONS without Authorization, for the service and its feedback."""
    for path in (URL, FEEDBACK_URL):
        response = service.options(
            path,
            headers={
                "Origin": SANDBOX_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == SANDBOX_ORIGIN
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
