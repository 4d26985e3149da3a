"""`GET /metrics` after a few invocations: every series of design.md is exposed, and each
moves when what it counts happens (the registry is process-wide, so tests compare deltas)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from cds_service.settings import Settings
from tests.integration.ops.conftest import REPORT_SIGN, running_app, scenario, value

pytestmark = pytest.mark.anyio

SERIES = (
    "cds_invocations_total",
    "cds_invocation_duration_seconds",
    "cds_fhir_requests_total",
    "cds_fhir_request_duration_seconds",
    "cds_prefetch_keys_total",
    "cds_cards_total",
    "cds_feedback_total",
    "cds_auth_failures_total",
    "cds_audit_store_failures_total",
    "cds_deadline_exceeded_total",
)
FHIR = "http://127.0.0.1:8081/fhir/R4"  # the fixtures' fhirServer, mocked here


@pytest.fixture
def fhir() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=FHIR, assert_all_called=False) as router:
        yield router


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    body["prefetch"] = {key: item for key, item in body["prefetch"].items() if key not in keys}
    return body


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_every_series_is_exposed_after_a_demo_run(fhir: respx.MockRouter) -> None:
    red_flags = scenario()
    labs = red_flags.request()["prefetch"]["labs"]
    fhir.get(path__regex=r".*/Observation$").respond(json=labs)
    async with running_app() as client:
        for body in (red_flags.request(), without(red_flags.request(), "labs")):
            assert (await client.post(REPORT_SIGN, json=body)).status_code == 200
        exposition = await scrape(client)

    for name in SERIES:
        assert f"# TYPE {name} " in exposition, name
    assert "cds_invocation_duration_seconds_bucket" in exposition


async def test_an_invocation_counts_its_outcome_duration_cards_and_prefetch_hits() -> None:
    async with running_app() as client:
        before = await scrape(client)
        response = await client.post(REPORT_SIGN, json=scenario().request())
        after = await scrape(client)

    assert [card["source"]["topic"]["code"] for card in response.json()["cards"]] == ["CalcRedFlags"]
    service = {"service": "calcification-report-sign"}
    assert value(after, "cds_invocations_total", **service, outcome="cards") == (
        value(before, "cds_invocations_total", **service, outcome="cards") + 1
    )
    assert value(after, "cds_cards_total", topic="CalcRedFlags") == (
        value(before, "cds_cards_total", topic="CalcRedFlags") + 1
    )
    assert value(after, "cds_prefetch_keys_total", result="hit") == (
        value(before, "cds_prefetch_keys_total", result="hit") + 5
    )
    assert value(after, "cds_invocation_duration_seconds_count") == (
        value(before, "cds_invocation_duration_seconds_count") + 1
    )


async def test_fhir_calls_count_by_outcome_and_a_missing_key_is_a_prefetch_miss(
    fhir: respx.MockRouter,
) -> None:
    labs = scenario().request()["prefetch"]["labs"]
    fhir.get(path__regex=r".*/Observation$").respond(json=labs)
    fhir.get(path__regex=r".*/Condition$").respond(503)
    async with running_app() as client:
        before = await scrape(client)
        body = without(scenario().request(), "labs", "conditions")
        assert (await client.post(REPORT_SIGN, json=body)).status_code == 200
        after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("cds_fhir_requests_total", outcome="ok") >= 1
    assert moved("cds_fhir_requests_total", outcome="http-5xx") >= 1
    assert moved("cds_fhir_request_duration_seconds_count") >= 2
    assert moved("cds_prefetch_keys_total", result="miss") == 2


async def test_feedback_counts_by_outcome() -> None:
    async with running_app() as client:
        cards = (await client.post(REPORT_SIGN, json=scenario().request())).json()["cards"]
        before = await scrape(client)
        item = {
            "card": cards[0]["uuid"],
            "outcome": "accepted",
            "outcomeTimestamp": "2026-12-01T10:00:00Z",
            "acceptedSuggestions": [{"id": cards[0]["suggestions"][0]["uuid"]}],
        }
        response = await client.post(f"{REPORT_SIGN}/feedback", json={"feedback": [item]})
        after = await scrape(client)

    assert response.status_code == 200
    assert value(after, "cds_feedback_total", outcome="accepted") == (
        value(before, "cds_feedback_total", outcome="accepted") + 1
    )


async def test_a_deadline_hit_is_counted(fhir: respx.MockRouter) -> None:
    async def slow_labs(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(2)
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})

    fhir.get(path__regex=r".*/Observation$").mock(side_effect=slow_labs)
    settings = Settings(auth="off", rate_limit_per_client=0, deadline_ms=200)
    async with running_app(settings) as client:
        before = await scrape(client)
        response = await client.post(REPORT_SIGN, json=without(scenario().request(), "labs"))
        after = await scrape(client)

    assert response.json() == {"cards": []}
    assert value(after, "cds_deadline_exceeded_total") == value(before, "cds_deadline_exceeded_total") + 1
    service = {"service": "calcification-report-sign"}
    assert value(after, "cds_invocations_total", **service, outcome="deadline") == (
        value(before, "cds_invocations_total", **service, outcome="deadline") + 1
    )


WORKER = """
from cds_service.metrics import INVOCATIONS
INVOCATIONS.labels(service="calcification-report-sign", outcome="cards").inc()
"""
SCRAPER = """
import sys
from cds_service.metrics import render_metrics
sys.stdout.write(render_metrics().decode())
"""


def test_several_processes_sum_into_one_exposition(tmp_path: Path) -> None:
    """What `serve --workers N` relies on: each worker writes its own files, one scrape sums."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, timeout=60)
    exposition = subprocess.run(
        [sys.executable, "-c", SCRAPER], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout

    labels = {"service": "calcification-report-sign", "outcome": "cards"}
    assert value(exposition, "cds_invocations_total", **labels) == 3
