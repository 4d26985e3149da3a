"""Audit records as the use cases build them, for the store tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cds_service.audit.records import CardRecord, InvocationRecord, RuleFiring

T0 = datetime(2026, 7, 6, 9, 30, tzinfo=UTC)  # a Monday


def make_record(
    number: int = 1,
    *,
    service: str = "calcification-report-sign",
    outcome: str = "cards",
    cards: int = 1,
    received_at: datetime | None = None,
    hook_instance: str | None = None,
) -> InvocationRecord:
    """An invocation as the use case records it: cards, firings, an evaluation summary."""
    instance = hook_instance or f"hook-{number}-{uuid.uuid4().hex[:8]}"
    sent = tuple(
        CardRecord(
            uuid=f"card-{number}-{index}-{uuid.uuid4().hex[:8]}",
            topic="CalcMetabolicWorkup",
            rule_id="CalcMetabolicWorkup",
            rule_version="1.0.0",
            indicator="warning",
            report_id=f"report-{number}",
            suggestion_uuids=(f"sugg-{instance}-{index}-a", f"sugg-{instance}-{index}-b"),
        )
        for index in range(cards if outcome == "cards" else 0)
    )
    return InvocationRecord(
        hook_instance=instance,
        service=service,
        hook="report-sign",
        client_issuer="https://ehr.example.org",
        client_tenant="north",
        received_at=received_at or T0 + timedelta(minutes=number),
        duration_ms=120 + number,
        outcome=outcome,
        outcome_reason=None if outcome == "cards" else f"{outcome} for the test",
        prefetch={"report": "received", "calcium": "missing+fetched"},
        evaluations=(
            {
                "reportId": f"report-{number}",
                "labs": [
                    {
                        "analyte": "calcium-total",
                        "value": 10.9,
                        "unit": "mg/dL",
                        "effective": T0 - timedelta(days=3),
                        "observationId": "obs-1",
                    }
                ],
                "fired": ["CalcMetabolicWorkup"],
            },
        ),
        cards=sent,
        response={"cards": [{"uuid": c.uuid, "summary": "Check calcium"} for c in sent]},
        artifact_id="calcification-lower-limb-xr",
        artifact_version="1.0.0",
        artifact_hash="ab" * 32,
        rule_firings=(
            RuleFiring("CalcMetabolicWorkup", "1.0.0", f"report-{number}"),
            RuleFiring("CalcFurtherImaging", "1.0.0", f"report-{number}", "would-fire"),
        ),
    )
