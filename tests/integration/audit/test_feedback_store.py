"""Feedback on record: each distinct item once (design.md decision 7), unknown cards flagged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cds_service.audit.records import FeedbackReceipt, FeedbackRecord, InvocationRecord, OverrideReasonRecord
from cds_service.audit.schema import feedback
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.audit.verify import verify_chain
from tests.integration.audit.factories import make_record

pytestmark = pytest.mark.anyio

AT = datetime(2026, 7, 6, 10, 5, 31, tzinfo=UTC)
ISSUER = "https://ehr.example.org"
ALREADY_DONE = OverrideReasonRecord("already-done", "urn:calcification-cds:override", "Already done")


@pytest.fixture
async def sent(store: SqlAuditStore) -> InvocationRecord:
    record = make_record()
    await store.record_invocation(record)
    return record


def overridden(record: InvocationRecord, *reasons: OverrideReasonRecord) -> FeedbackRecord:
    return FeedbackRecord(record.cards[0].uuid, "overridden", AT, reasons=reasons)


def stored_rows(store: SqlAuditStore) -> list[object]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(feedback).order_by(feedback.c.seq)))


async def test_the_same_item_twice_is_stored_once(store: SqlAuditStore, sent: InvocationRecord) -> None:
    item = overridden(sent, ALREADY_DONE)

    first = await store.record_feedback(sent.service, [item, item], ISSUER)
    again = await store.record_feedback(sent.service, [item], ISSUER)

    assert first == FeedbackReceipt(stored=1, duplicates=1, unknown_cards=0)
    assert again == FeedbackReceipt(stored=0, duplicates=1, unknown_cards=0)
    assert len(stored_rows(store)) == 1
    assert verify_chain(store.engine).ok


async def test_a_changed_comment_is_the_same_item(store: SqlAuditStore, sent: InvocationRecord) -> None:
    commented = OverrideReasonRecord("already-done", "urn:calcification-cds:override", user_comment="done")

    await store.record_feedback(sent.service, [overridden(sent, ALREADY_DONE)], ISSUER)
    receipt = await store.record_feedback(sent.service, [overridden(sent, commented)], ISSUER)

    assert receipt.duplicates == 1


async def test_another_reason_code_is_another_item(store: SqlAuditStore, sent: InvocationRecord) -> None:
    other = OverrideReasonRecord("not-relevant", "urn:calcification-cds:override")

    await store.record_feedback(sent.service, [overridden(sent, ALREADY_DONE)], ISSUER)
    receipt = await store.record_feedback(sent.service, [overridden(sent, other)], ISSUER)

    assert receipt.stored == 1


async def test_an_accepted_item_records_its_suggestions(store: SqlAuditStore, sent: InvocationRecord) -> None:
    suggestions = sent.cards[0].suggestion_uuids
    accepted = FeedbackRecord(sent.cards[0].uuid, "accepted", AT, accepted_suggestions=suggestions[::-1])

    await store.record_feedback(sent.service, [accepted], ISSUER)

    (row,) = stored_rows(store)
    assert row.accepted_suggestions == sorted(suggestions)  # type: ignore[attr-defined]
    assert row.unknown_card is False  # type: ignore[attr-defined]


async def test_reasons_and_comments_are_kept(store: SqlAuditStore, sent: InvocationRecord) -> None:
    comment_only = OverrideReasonRecord(user_comment="Patient already\x00 seen by rheumatology ")

    await store.record_feedback(sent.service, [overridden(sent, comment_only, ALREADY_DONE)], ISSUER)

    (row,) = stored_rows(store)
    assert (row.reason_code, row.reason_display) == ("already-done", "Already done")  # type: ignore[attr-defined]
    assert row.user_comment == "Patient already seen by rheumatology"  # type: ignore[attr-defined]
    assert len(row.reasons) == 2  # type: ignore[attr-defined]


async def test_feedback_on_an_unknown_card_is_stored_and_flagged(
    store: SqlAuditStore, sent: InvocationRecord
) -> None:
    stranger = FeedbackRecord("card-we-never-sent", "overridden", AT)
    other_service = overridden(sent)

    receipt = await store.record_feedback("calcification-patient-view", [stranger, other_service], ISSUER)

    assert receipt == FeedbackReceipt(stored=2, duplicates=0, unknown_cards=2)
    assert [row.unknown_card for row in stored_rows(store)] == [True, True]  # type: ignore[attr-defined]


async def test_concurrent_resends_store_one_item(store: SqlAuditStore, sent: InvocationRecord) -> None:
    import asyncio

    item = overridden(sent, ALREADY_DONE)

    receipts = await asyncio.gather(*(store.record_feedback(sent.service, [item], ISSUER) for _ in range(20)))

    assert sum(r.stored for r in receipts) == 1
    assert sum(r.duplicates for r in receipts) == 19
    assert verify_chain(store.engine).ok


async def test_answered_topics_name_the_report_and_topic_clinicians_answered(
    store: SqlAuditStore, sent: InvocationRecord
) -> None:
    await store.record_feedback(sent.service, [overridden(sent, ALREADY_DONE)], ISSUER)
    answered_card = sent.cards[0]

    recent = await store.answered_topics([answered_card.report_id, "other-report"], AT)
    later = await store.answered_topics([answered_card.report_id], AT.replace(hour=11))

    assert recent == {(answered_card.report_id, answered_card.topic)}
    assert later == set()
