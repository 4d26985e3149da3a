"""One JSON log line per invocation with hookInstance, service, client, outcome, durationMs and
topics — and never the report's words, the patient's name or the FHIR access token, whatever
the log level and whichever path the invocation took (FHIR calls made with the token, one of
them failing)."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import respx

from cds_service.logs import JsonFormatter
from tests.integration.ops.conftest import REPORT_SIGN, running_app, scenario

pytestmark = pytest.mark.anyio

FHIR = "http://127.0.0.1:8081/fhir/R4"
SENTENCE = "The zebra hummed softly beneath the violet lamppost of Quarrington."
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.fhir-access-token-7f3a9c.signature"
INVOCATION_FIELDS = {"hookInstance", "service", "client", "outcome", "durationMs", "topics"}
ENVELOPE = {"time", "level", "logger", "message"}


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged, at DEBUG, through the service's own JSON formatter."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield output
    root.removeHandler(handler)
    root.setLevel(previous_level)


def with_phi(body: dict[str, Any]) -> dict[str, Any]:
    """The scenario's call carrying a distinctive report sentence and an access token, with labs
    and conditions left for the service to fetch with that token."""
    report = body["prefetch"]["report"]
    report["conclusion"] = f"{report['conclusion']} {SENTENCE}"
    text = base64.b64decode(report["presentedForm"][0]["data"]).decode() + SENTENCE + "\n"
    report["presentedForm"][0]["data"] = base64.b64encode(text.encode()).decode()
    body["fhirAuthorization"] = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    for key in ("labs", "conditions"):
        del body["prefetch"][key]
    return body


def patient_names(body: dict[str, Any]) -> list[str]:
    names = body["prefetch"]["patient"]["name"]
    return [part for name in names for part in (name.get("family"), *name.get("given", ())) if part]


def invocation_lines(output: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    return [entry for entry in entries if entry["message"] == "invocation"]


async def test_one_line_per_invocation_and_no_phi_or_token(log_output: io.StringIO) -> None:
    red_flags = scenario()
    bodies = [with_phi(red_flags.request()) for _ in range(2)]
    labs = red_flags.request()["prefetch"]["labs"]
    with respx.mock(base_url=FHIR, assert_all_called=True) as fhir:
        labs_route = fhir.get(path__regex=r".*/Observation$").respond(json=labs)
        fhir.get(path__regex=r".*/Condition$").respond(500, text=SENTENCE)  # echoed back: not logged
        async with running_app() as client:
            answers = [await client.post(REPORT_SIGN, json=body) for body in bodies]

    assert labs_route.calls.last.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert all(answer.status_code == 200 for answer in answers)
    output = log_output.getvalue()
    for secret in (SENTENCE, "zebra", ACCESS_TOKEN, "fhir-access-token-7f3a9c", *patient_names(bodies[0])):
        assert secret not in output, f"{secret!r} reached the log"
    lines = invocation_lines(output)
    assert [line["hookInstance"] for line in lines] == [body["hookInstance"] for body in bodies]
    for line in lines:
        assert set(line) == ENVELOPE | INVOCATION_FIELDS
        assert line["service"] == "calcification-report-sign"
        assert line["client"] == "anonymous@192.0.2.20"
        assert line["outcome"] == "cards"
        assert line["topics"] == ["CalcRedFlags"]
        assert isinstance(line["durationMs"], float | int)
