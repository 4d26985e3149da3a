"""The governance numbers come straight out of the audit store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cds_service.audit.records import FeedbackRecord, OverrideReasonRecord
from cds_service.audit.sql_store import SqlAuditStore
from tests.integration.audit.factories import T0, make_record

pytestmark = pytest.mark.anyio


async def test_per_rule_and_week_counts_latency_and_outcomes(store: SqlAuditStore) -> None:
    shown = [make_record(1), make_record(2), make_record(3, received_at=T0 + timedelta(days=7))]
    for record in [*shown, make_record(4, outcome="no-finding")]:
        await store.record_invocation(record)
    wrong = OverrideReasonRecord("not-relevant", "urn:x", user_comment="This rule fires on every phlebolith!")
    await store.record_feedback(
        shown[0].service,
        [
            FeedbackRecord(shown[0].cards[0].uuid, "overridden", T0, reasons=(wrong,)),
            FeedbackRecord(shown[1].cards[0].uuid, "accepted", T0, accepted_suggestions=("x",)),
            FeedbackRecord("never-sent", "overridden", T0),
        ],
        None,
    )

    summary = await store.governance_summary(T0 - timedelta(days=1))

    first_week = next(
        r for r in summary["rules"] if (r["ruleId"], r["week"]) == ("CalcMetabolicWorkup", "2026-W28")
    )
    assert first_week == {
        "ruleId": "CalcMetabolicWorkup",
        "week": "2026-W28",
        "firings": 3,
        "wouldFire": 0,
        "cardsShown": 2,
        "accepted": 1,
        "overridden": 1,
        "comments": 1,
        "overrideReasons": {"not-relevant": 1},
    }
    silent = next(
        r for r in summary["rules"] if (r["ruleId"], r["week"]) == ("CalcFurtherImaging", "2026-W28")
    )
    assert silent["wouldFire"] == 3
    assert summary["outcomes"] == {"cards": 3, "no-finding": 1}
    assert summary["latency"]["count"] == 4 and summary["latency"]["p50Ms"] == 122.0
    assert summary["recentComments"][0]["comment"] == "This rule fires on every phlebolith!"
    assert summary["unknownCardFeedback"] == 1


async def test_nothing_recorded_gives_empty_numbers(store: SqlAuditStore) -> None:
    summary = await store.governance_summary(T0)

    assert summary["rules"] == [] and summary["latency"]["p95Ms"] is None and summary["outcomes"] == {}
