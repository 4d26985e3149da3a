"""The audit store's interface as the use cases see it.

The durable implementation (SQLAlchemy, hash-chained) is ``sql_store.SqlAuditStore``; tests may
use ``MemoryAuditStore``, a fake with the same behaviour and no durability.

    AuditUnavailable        the store cannot record: answer no cards (design.md decision 5)
    └── AlreadyRecorded     this hookInstance was recorded meanwhile (a concurrent repeat);
                            ``.response`` is what was recorded and may be sent (decision 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from cds_service.audit.feedback import distinct
from cds_service.audit.records import FeedbackReceipt, FeedbackRecord, InvocationRecord


class AuditUnavailable(Exception):
    """The store cannot record right now (database down); the use case answers no cards."""


class AlreadyRecorded(AuditUnavailable):
    """Two calls with one hookInstance raced; the other one's record stands.

    A subclass of AuditUnavailable so that a caller unaware of it still answers no cards rather
    than unaudited ones; a caller that knows it answers ``response``, the recorded answer.
    """

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("hookInstance already recorded for this service")
        self.response = response


class AuditStore(Protocol):
    async def record_invocation(self, record: InvocationRecord) -> None:
        """Commit the record before the response leaves; raise AuditUnavailable on failure."""

    async def recorded_response(self, service: str, hook_instance: str) -> dict[str, Any] | None:
        """The response recorded for this hookInstance of this service, if any."""

    async def record_feedback(
        self,
        service: str,
        items: Sequence[FeedbackRecord],
        client_issuer: str | None,
        received_at: datetime | None = None,
    ) -> FeedbackReceipt:
        """Store each distinct item once (decision 7); raise AuditUnavailable on failure."""

    async def answered_topics(self, report_ids: Sequence[str], since: datetime) -> set[tuple[str, str]]:
        """(report id, card topic) pairs answered by feedback since a moment (decision 8)."""

    async def ready(self) -> bool:
        """Whether the store can record now (for /readyz)."""

    async def close(self) -> None:
        """Release connections at shutdown."""


class MemoryAuditStore:
    """In-process fake of the audit store, for unit tests of the use cases."""

    def __init__(self) -> None:
        self.invocations: list[InvocationRecord] = []
        self.feedback: dict[str, tuple[str, FeedbackRecord, bool]] = {}  # key -> service, item, unknown
        self.available = True

    async def record_invocation(self, record: InvocationRecord) -> None:
        self._check()
        recorded = await self.recorded_response(record.service, record.hook_instance)
        if recorded is not None:
            raise AlreadyRecorded(recorded)
        self.invocations.append(record)

    async def recorded_response(self, service: str, hook_instance: str) -> dict[str, Any] | None:
        self._check()
        for record in self.invocations:
            if record.service == service and record.hook_instance == hook_instance:
                return record.response
        return None

    async def record_feedback(
        self,
        service: str,
        items: Sequence[FeedbackRecord],
        client_issuer: str | None,
        received_at: datetime | None = None,
    ) -> FeedbackReceipt:
        self._check()
        keyed, repeats = distinct(items)
        fresh = [(key, item) for key, item in keyed if key not in self.feedback]
        sent = {c.uuid for r in self.invocations if r.service == service for c in r.cards}
        for key, item in fresh:
            self.feedback[key] = (service, item, item.card_uuid not in sent)
        unknown = sum(1 for _, item in fresh if item.card_uuid not in sent)
        return FeedbackReceipt(len(fresh), repeats + len(keyed) - len(fresh), unknown)

    async def answered_topics(self, report_ids: Sequence[str], since: datetime) -> set[tuple[str, str]]:
        self._check()
        cards = {c.uuid: c for r in self.invocations for c in r.cards}
        return {
            (cards[item.card_uuid].report_id, cards[item.card_uuid].topic)
            for _, item, unknown in self.feedback.values()
            if not unknown
            and item.outcome_timestamp >= since
            and cards[item.card_uuid].report_id in report_ids
        }

    async def ready(self) -> bool:
        return self.available

    async def close(self) -> None:
        return None

    def _check(self) -> None:
        if not self.available:
            raise AuditUnavailable("memory store switched off")
