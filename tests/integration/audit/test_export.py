"""``cds-service audit export``: NDJSON records per design.md, or FHIR R4 that validates."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.guidanceresponse import GuidanceResponse
from fhir.resources.R4B.provenance import Provenance

from cds_service.audit.cli import audit_main
from cds_service.audit.records import FeedbackRecord, InvocationRecord, OverrideReasonRecord
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.settings import Settings
from tests.integration.audit.factories import T0, make_record

pytestmark = pytest.mark.anyio

ANSWERED_AT = datetime(2026, 7, 6, 10, 5, 31, tzinfo=UTC)


def run_export(database_url: str, *arguments: str) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = audit_main(["export", *arguments], Settings(database_url=database_url), stdout=out, stderr=err)
    return code, [orjson.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.fixture
async def trail(store: SqlAuditStore) -> list[InvocationRecord]:
    """A card answered by feedback, a no-finding call, and a call that hit the deadline."""
    records = [make_record(1), make_record(2, outcome="no-finding"), make_record(3, outcome="deadline")]
    for record in records:
        await store.record_invocation(record)
    card = records[0].cards[0]
    reason = OverrideReasonRecord("already-done", "urn:calcification-cds:override", "Already done", "seen")
    await store.record_feedback(
        records[0].service,
        [
            FeedbackRecord(card.uuid, "overridden", ANSWERED_AT, reasons=(reason,)),
            FeedbackRecord(
                card.uuid, "accepted", ANSWERED_AT, accepted_suggestions=card.suggestion_uuids[:1]
            ),
        ],
        "https://ehr.example.org",
        received_at=ANSWERED_AT + timedelta(seconds=2),
    )
    return records


async def test_ndjson_has_one_record_per_invocation_with_cards_and_feedback(
    trail: list[InvocationRecord], database_url: str
) -> None:
    code, lines, err = run_export(database_url)

    assert code == 0 and "exported 3 invocations" in err
    first = lines[0]
    card = trail[0].cards[0]
    assert {key: first[key] for key in ("hookInstance", "service", "hook", "outcome")} == {
        "hookInstance": trail[0].hook_instance,
        "service": "calcification-report-sign",
        "hook": "report-sign",
        "outcome": "cards",
    }
    assert (first["receivedAt"], first["durationMs"]) == ("2026-07-06T09:31:00.000Z", 121.0)
    assert first["artifact"] == {"id": "calcification-lower-limb-xr", "version": "1.0.0", "hash": "ab" * 32}
    assert first["cards"] == [
        {
            "uuid": card.uuid,
            "topic": "CalcMetabolicWorkup",
            "ruleId": "CalcMetabolicWorkup",
            "ruleVersion": "1.0.0",
            "indicator": "warning",
            "reportId": "report-1",
            "suggestions": list(card.suggestion_uuids),
        }
    ]
    assert first["feedback"][0] == {
        "card": card.uuid,
        "outcome": "overridden",
        "acceptedSuggestions": [],
        "overrideReason": {
            "reason": {
                "system": "urn:calcification-cds:override",
                "code": "already-done",
                "display": "Already done",
            }
        },
        "userComment": "seen",
        "outcomeTimestamp": "2026-07-06T10:05:31.000Z",
        "receivedAt": "2026-07-06T10:05:33.000Z",
    }
    assert first["feedback"][1]["acceptedSuggestions"] == [card.suggestion_uuids[0]]
    assert [line["outcome"] for line in lines] == ["cards", "no-finding", "deadline"]


async def test_since_leaves_out_older_invocations(trail: list[InvocationRecord], database_url: str) -> None:
    since = (T0 + timedelta(minutes=2)).isoformat()

    _, lines, _ = run_export(database_url, "--since", since)

    assert [line["hookInstance"] for line in lines] == [r.hook_instance for r in trail[1:]]


async def test_fhir_gives_a_guidance_response_and_provenance_per_invocation(
    trail: list[InvocationRecord], database_url: str
) -> None:
    code, lines, _ = run_export(database_url, "--format", "fhir")

    assert code == 0
    assert [line["resourceType"] for line in lines] == ["GuidanceResponse", "Provenance"] * 3
    guidance = [GuidanceResponse.model_validate(line) for line in lines[0::2]]
    provenance = [Provenance.model_validate(line) for line in lines[1::2]]
    assert [g.status for g in guidance] == ["success", "success", "failure"]
    assert guidance[0].moduleCanonical == "urn:calcification-cds:artifact:calcification-lower-limb-xr|1.0.0"
    assert guidance[0].requestIdentifier.value == trail[0].hook_instance
    assert guidance[2].evaluationMessage[0].reference == "#message"
    assert provenance[0].target[0].reference == f"GuidanceResponse/{guidance[0].id}"


async def test_fhir_output_parameters_carry_cards_and_feedback(
    trail: list[InvocationRecord], database_url: str
) -> None:
    _, lines, _ = run_export(database_url, "--format", "fhir")

    parameters = next(c for c in lines[0]["contained"] if c["resourceType"] == "Parameters")
    names = [p["name"] for p in parameters["parameter"]]
    assert names.count("card") == 1 and names.count("feedback") == 2
    card = next(p for p in parameters["parameter"] if p["name"] == "card")
    assert {"name": "uuid", "valueString": trail[0].cards[0].uuid} in card["part"]


def test_export_rejects_a_bad_since(sqlite_url: str) -> None:
    code, _, _ = run_export(sqlite_url, "--since", "last tuesday")

    assert code == 2
