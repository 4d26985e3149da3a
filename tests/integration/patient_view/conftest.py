"""Chart-open through the app: authentication off, an in-memory audit store, the patient-view
fixture scenarios loaded as of now (cds_service.fixtures shifts their dates)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from cds_service.api.app import create_app
from cds_service.audit.records import InvocationRecord
from cds_service.audit.store import MemoryAuditStore
from cds_service.fixtures import Scenario, load_scenario, scenario_names
from cds_service.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = PROJECT_ROOT / "fhir_fixtures"
SERVICE_ID = "calcification-patient-view"
URL = f"/cds-services/{SERVICE_ID}"
FEEDBACK_URL = f"{URL}/feedback"
PATIENT_VIEW_SCENARIOS = scenario_names(FIXTURES, hook="patient-view")
#: No FHIR server listens here: full prefetch must never need one.
UNREACHABLE_FHIR = "http://127.0.0.1:9/fhir/R4"


def scenario(name: str, fhir_server: str = UNREACHABLE_FHIR) -> Scenario:
    return load_scenario(name, datetime.now(UTC), root=FIXTURES, fhir_server=fhir_server)


def topic(card: dict[str, Any]) -> str:
    return str(card["source"]["topic"]["code"])


def report_of(card: dict[str, Any]) -> str:
    return str(card["extension"]["urn:calcification-cds:rule"]["reportId"])


def feedback_item(card: dict[str, Any], outcome: str = "overridden", **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": card["uuid"],
        "outcome": outcome,
        "outcomeTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    else:
        item["overrideReason"] = {"reason": {"code": "not-relevant", "system": "http://example.org/reasons"}}
    return item | changes


class ChartOpen:
    """The app, its audit store, and a way to open a chart (a fresh hookInstance each time)."""

    def __init__(self, client: TestClient, audit: MemoryAuditStore) -> None:
        self.client = client
        self.audit = audit

    def open(self, body: dict[str, Any]) -> httpx.Response:
        response: httpx.Response = self.client.post(URL, json=body)
        return response

    def cards(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.open(body | {"hookInstance": str(uuid.uuid4())})
        assert response.status_code == 200, response.text
        cards: list[dict[str, Any]] = response.json()["cards"]
        return cards

    def feedback(self, *items: dict[str, Any]) -> None:
        response = self.client.post(FEEDBACK_URL, json={"feedback": list(items)})
        assert response.status_code == 200, response.text

    @property
    def last(self) -> InvocationRecord:
        return self.audit.invocations[-1]


@pytest.fixture
def make_chart_open() -> Iterator[Callable[..., ChartOpen]]:
    """Build a ChartOpen with settings overrides; every app made is closed at the end."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> ChartOpen:
        values: dict[str, Any] = {"auth": "off", "rate_limit_per_client": 0} | overrides
        settings = Settings(**values)
        audit = MemoryAuditStore()
        client = TestClient(create_app(settings, audit=audit), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return ChartOpen(client, audit)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def chart(make_chart_open: Callable[..., ChartOpen]) -> ChartOpen:
    return make_chart_open()
