"""The in-memory fake behaves like the real store where the use cases can tell."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cds_service.audit.records import CardRecord, FeedbackReceipt, FeedbackRecord, InvocationRecord
from cds_service.audit.store import AlreadyRecorded, AuditUnavailable, MemoryAuditStore

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 7, 6, 9, 30, tzinfo=UTC)
CARD = CardRecord("card-1", "CalcRedFlags", "CalcRedFlags", "1.0.0", "critical", "report-1")
RECORD = InvocationRecord(
    "hook-1",
    "svc",
    "report-sign",
    None,
    None,
    NOW,
    12.0,
    "cards",
    cards=(CARD,),
    response={"cards": [{"uuid": "card-1"}]},
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_repeated_hook_instance_is_already_recorded() -> None:
    store = MemoryAuditStore()
    await store.record_invocation(RECORD)

    with pytest.raises(AlreadyRecorded) as raised:
        await store.record_invocation(RECORD)

    assert raised.value.response == RECORD.response


async def test_feedback_is_idempotent_and_flags_unknown_cards() -> None:
    store = MemoryAuditStore()
    await store.record_invocation(RECORD)
    known = FeedbackRecord("card-1", "overridden", NOW)
    unknown = FeedbackRecord("card-9", "overridden", NOW)

    assert await store.record_feedback("svc", [known, known, unknown], None) == FeedbackReceipt(2, 1, 1)


async def test_switched_off_it_is_unavailable_and_not_ready() -> None:
    store = MemoryAuditStore()
    store.available = False

    assert await store.ready() is False
    with pytest.raises(AuditUnavailable):
        await store.record_invocation(RECORD)


async def test_answered_topics_like_the_real_store() -> None:
    store = MemoryAuditStore()
    await store.record_invocation(RECORD)
    await store.record_feedback("svc", [FeedbackRecord("card-1", "overridden", NOW)], None)

    assert await store.answered_topics(["report-1"], NOW) == {("report-1", "CalcRedFlags")}
    assert await store.answered_topics(["report-2"], NOW) == set()
