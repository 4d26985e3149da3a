"""The same scenarios without prefetch: the service reads the patient's data from a real FHIR
server (../shared/tools/fhir-server, Medplum's engine in memory) and gives the same cards.

The server is loaded with every scenario's bundle as of now (dates shifted); the requests name
it as `fhirServer`, carry no `fhirAuthorization`, and the service runs with CDS_AUTH=off, so it
may query any server (design.md, decision 1).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cds_service.fixtures import Scenario, load_scenarios, materialise_bundles
from tests.e2e.test_fixtures_http import (
    FIXTURES,
    SERVICE_PATH,
    plain,
    running_service,
    service_settings,
    topic,
)
from tests.fhir_test_server import running_fhir_server as shared_fhir_server

pytestmark = [
    pytest.mark.fhirserver,
    pytest.mark.skipif(
        shutil.which("node") is None, reason="node is missing: the FHIR test server cannot run"
    ),
]

#: One scenario per kind of data the service must fetch: labs with paging-free sorting, conditions
#: (SNOMED and ICD-10-CM), open orders, a Binary report, SI units, a child, no finding, out of scope.
SCENARIOS = (
    "redflag-large-deep-mass",
    "metabolic-high-total-calcium",
    "metabolic-ckd4-nephrology",
    "metabolic-ckd-unstaged-stale-labs",
    "workup-calcium-already-ordered",
    "workup-all-ordered-suppressed",
    "imaging-nonspecific-binary-report",
    "units-si",
    "child-age-12",
    "benign-phleboliths",
    "negated-no-calcification",
    "out-of-scope-chest",
)
#: A sentence only the Binary holds (the report's conclusion does not say it).
BINARY_ONLY_SENTENCE = (
    "An 8 mm rounded calcification is seen in the subcutaneous fat anterior to the mid left tibia"
)


@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("node") is None:
        print("node is missing: skipping the FHIR server tests")
        pytest.skip("node is missing: the FHIR test server cannot run")
    running_fhir_server = shared_fhir_server()

    data = tmp_path_factory.mktemp("fhir-data")
    materialise_bundles(load_scenarios(datetime.now(UTC), root=FIXTURES), data)
    with running_fhir_server(data=[str(data)]) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        running_service(service_settings(tmp_path_factory.mktemp("fhir-service"))) as url,
        httpx.Client(base_url=url, timeout=30.0) as http,
    ):
        yield http


def scenario(name: str, fhir_base: str) -> Scenario:
    (loaded,) = [
        s for s in load_scenarios(datetime.now(UTC), root=FIXTURES, fhir_server=fhir_base) if s.name == name
    ]
    return loaded


def post(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(SERVICE_PATH, json=body)
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def topics(cards: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(topic(card) for card in cards))


@pytest.mark.parametrize("name", SCENARIOS)
def test_without_prefetch_the_service_reads_fhir_and_gives_the_same_topics(
    client: httpx.Client, fhir_base: str, name: str
) -> None:
    loaded = scenario(name, fhir_base)
    fetched = post(client, loaded.request_without_prefetch())
    prefetched = post(client, loaded.request())
    assert topics(fetched) == topics(prefetched) == loaded.expected.topics
    assert {topic(c): c["indicator"] for c in fetched} == dict(loaded.expected.indicators)


def test_the_binary_report_is_read_from_the_fhir_server(client: httpx.Client, fhir_base: str) -> None:
    loaded = scenario("imaging-nonspecific-binary-report", fhir_base)
    for body in (loaded.request(), loaded.request_without_prefetch()):
        details = [plain(card["detail"]) for card in post(client, body)]
        assert details and all(BINARY_ONLY_SENTENCE in detail for detail in details), details
