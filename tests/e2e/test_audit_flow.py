"""Issue 5, done when: a demo run followed by a few feedback posts shows up correctly in
`audit export`, in `/governance` and its JSON, and `audit verify` passes — on SQLite and on
PostgreSQL. Everything through the operator's interface: `cds-service serve`, `demo`,
`audit export`, `audit verify`, HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cds_service.fixtures import scenario_names
from tests.e2e.test_fixtures_http import FIXTURES

ADMIN_TOKEN = "governance-test-token"
DESIGN_FIELDS = (
    "hookInstance",
    "service",
    "hook",
    "receivedAt",
    "durationMs",
    "outcome",
    "artifact",
    "cards",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cds_service", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'audit.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    from tests.integration.audit.conftest import postgres_url as fresh_schema

    yield from fresh_schema.__wrapped__()  # type: ignore[attr-defined]


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CDS_")},
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": database_url,
        "CDS_ADMIN_TOKEN": ADMIN_TOKEN,
        "CDS_RATE_LIMIT_PER_CLIENT": "0",
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "cds_service", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("cds-service serve did not become ready: " + (tmp_path / "serve.log").read_text())
        yield url, env
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


def test_demo_then_feedback_shows_in_export_governance_and_verify(
    service: tuple[str, dict[str, str]],
) -> None:
    url, env = service
    demo = cli(env, "demo", "--url", url, "--fixtures", str(FIXTURES))
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]

    exported = cli(env, "audit", "export")
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(records) == len(scenario_names(FIXTURES))
    with_cards = [r for r in records if r["cards"]]
    first, second = with_cards[0], with_cards[1]
    for record in records:
        assert {"hookInstance", "service", "hook", "receivedAt", "durationMs", "outcome", "artifact"} <= set(
            record
        )
        assert record["artifact"]["id"] == "calcification-lower-limb-xr" and record["artifact"]["hash"]

    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    accepted_card = first["cards"][0]
    overridden_card = second["cards"][0]
    feedback = {
        "feedback": [
            {
                "card": accepted_card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": accepted_card["suggestions"][0]}],
                "outcomeTimestamp": now,
            },
            {
                "card": overridden_card["uuid"],
                "outcome": "overridden",
                "overrideReasons": {  # Epic's spelling
                    "reason": {
                        "system": "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes",
                        "code": "cds-not-applicable",
                        "display": "Not applicable to this patient",
                    },
                    "userComment": "Known benign, seen in clinic",
                },
                "outcomeTimestamp": now,
            },
        ]
    }
    service_url = f"{url}/cds-services/calcification-report-sign/feedback"
    assert httpx.post(service_url, json=feedback).json()["stored"] == 2
    assert httpx.post(service_url, json=feedback).json()["duplicates"] == 2  # idempotent

    exported = cli(env, "audit", "export")
    by_instance = {r["hookInstance"]: r for r in map(json.loads, exported.stdout.splitlines())}
    assert [f["outcome"] for f in by_instance[first["hookInstance"]]["feedback"]] == ["accepted"]
    overridden = by_instance[second["hookInstance"]]["feedback"]
    assert [f["outcome"] for f in overridden] == ["overridden"]
    assert "cds-not-applicable" in json.dumps(overridden)

    fhir_export = cli(env, "audit", "export", "--format", "fhir")
    resources = [json.loads(line) for line in fhir_export.stdout.splitlines()]
    assert sum(r["resourceType"] == "GuidanceResponse" for r in resources) == len(records)
    assert any(r["resourceType"] == "Provenance" for r in resources)

    verify = cli(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    summary = httpx.get(f"{url}/governance/api/summary", headers=headers).json()
    text = json.dumps(summary)
    assert "Known benign, seen in clinic" in text
    weeks = summary["rules"]
    assert sum(week["accepted"] for week in weeks) == 1
    assert sum(week["overridden"] for week in weeks) == 1
    assert sum(week["cardsShown"] for week in weeks) == sum(len(r["cards"]) for r in records)
    assert {"cds-not-applicable"} <= {code for week in weeks for code in week["overrideReasons"]}
    assert sum(summary["outcomes"].values()) == len(records)
    page = httpx.get(f"{url}/governance", headers=headers)
    assert page.status_code == 200 and "CalcFurtherImaging" in page.text
    assert httpx.get(f"{url}/governance").status_code == 401
