"""The durable audit store: SQLAlchemy (sync engine, in worker threads but for one case below), hash-chained.

The app is async but the database work is short and serialised by the chain anyway, so a sync
engine in worker threads is simpler than an async driver and works the same on SQLite and
PostgreSQL. Writers queue on a lock before they take a connection (writer_lock.py: threads, and
processes sharing a SQLite file), so a burst of invocations waits on the lock rather than
exhausting the pool or polling in SQLite's busy handler; on PostgreSQL the chain-head row lock
(chain.py) queues the processes.

One exception: on a SQLite file, a batch of invocations is written on the event loop itself when
no other writer holds the lock (and SQLite is not locked by a program outside the service), and
goes to a worker thread only when it would have to wait. A write is a millisecond or less of
local work; run in a thread, its many hand-offs of the interpreter lock cost the event loop more
than the write itself (measured at concurrency 16 with two workers: about 0.5 ms of CPU per
call, and a fifth of the throughput).

Any database failure surfaces as ``AuditUnavailable``: the caller answers no cards (design.md
decision 5), and ``cds_audit_store_failures_total`` counts it. After a connection failure the
store fails fast for ``OUTAGE_BACKOFF_S`` instead of letting every call queue behind a connect
timeout (a partitioned database would otherwise hold each answer for seconds); ``ready()``
always probes, and a successful probe ends the back-off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cds_service.audit import chain
from cds_service.audit.engine import SQLITE_BUSY_TIMEOUT_MS, WRITE, make_engine, sqlite_file
from cds_service.audit.feedback import clean_comment, distinct, first_coded, joined_comments
from cds_service.audit.governance import governance_summary
from cds_service.audit.group_commit import GroupCommit
from cds_service.audit.records import FeedbackReceipt, FeedbackRecord, InvocationRecord
from cds_service.audit.schema import card, chain_head, feedback, invocation
from cds_service.audit.store import AlreadyRecorded, AuditUnavailable
from cds_service.audit.writer_lock import WriterLock, writer_lock_file
from cds_service.metrics import AUDIT_STORE_FAILURES

log = logging.getLogger("cds_service.audit")

T = TypeVar("T")

Response = dict[str, Any]  # a CDS Hooks response as recorded
Found = Response | BaseException | None  # per look-up: the response, none, or its own failure

OUTAGE_BACKOFF_S = 1.0
CONNECTIVITY_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, OSError)
STORE_FAILURES = (SQLAlchemyError, chain.ChainNotInitialised, OSError, AuditUnavailable)


def jsonable(value: Any) -> Any:
    """Plain JSON values (dates as ISO text, tuples as lists): what the database gives back."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


class SqlAuditStore:
    """The audit store on SQLite or PostgreSQL; build one per process, close it at shutdown."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = WriterLock(writer_lock_file(sqlite_file(engine.url)))
        self._down_until = 0.0  # time.monotonic() before which calls fail fast
        self._writes_on_loop = self._writer.guards_a_file  # a SQLite file (see the module's text)
        self._invocations: GroupCommit[InvocationRecord, None] = GroupCommit(self._write_invocation_batch)
        self._lookups: GroupCommit[tuple[str, str], Response | None] = GroupCommit(self._read_response_batch)

    @classmethod
    def from_url(cls, database_url: str) -> SqlAuditStore:
        return cls(make_engine(database_url))

    async def record_invocation(self, record: InvocationRecord) -> None:
        """Committed before this returns; concurrent invocations share a transaction."""
        await self._invocations.submit(record)

    async def _write_invocation_batch(self, records: list[InvocationRecord]) -> list[BaseException | None]:
        if self._writes_on_loop:
            written = self._run_here(lambda: self._write_invocations_unless_busy(records))
            if written is not None:
                return written
        return await self._run(lambda: self._write_invocations(records), fail_fast=True)

    async def recorded_response(self, service: str, hook_instance: str) -> dict[str, Any] | None:
        """Concurrent look-ups share one query, as concurrent records share one transaction."""
        return await self._lookups.submit((service, hook_instance))

    async def _read_response_batch(self, keys: list[tuple[str, str]]) -> list[Found]:
        return await self._run(lambda: self._read_responses(keys), fail_fast=True)

    async def record_feedback(
        self,
        service: str,
        items: Sequence[FeedbackRecord],
        client_issuer: str | None,
        received_at: datetime | None = None,
    ) -> FeedbackReceipt:
        """Store each distinct item once; items already on record count as duplicates."""
        when = received_at or datetime.now(UTC)
        return await self._run(
            lambda: self._write_feedback(service, items, client_issuer, when), fail_fast=True
        )

    async def answered_topics(self, report_ids: Sequence[str], since: datetime) -> set[tuple[str, str]]:
        """(report id, card topic) pairs that clinicians answered since a moment (decision 8)."""
        return await self._run(lambda: self._read_answered(report_ids, since), fail_fast=True)

    async def governance_summary(self, since: datetime) -> dict[str, Any]:
        """The governance numbers (governance.py) since a moment, off the event loop."""
        return await self._run(lambda: governance_summary(self.engine, since))

    async def ready(self) -> bool:
        """True when the database answers and the chain exists (for /readyz)."""
        try:
            await self._run(self._probe)
        except AuditUnavailable:
            return False
        self._down_until = 0.0
        return True

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self.engine.dispose)
        self._writer.close()

    # ------------------------------------------------------------------ in worker threads

    async def _run(self, work: Callable[[], T], *, fail_fast: bool = False) -> T:
        try:
            if fail_fast:
                self._refuse_during_outage()
            return await anyio.to_thread.run_sync(work)
        except STORE_FAILURES as failure:
            raise self._unavailable(failure) from failure

    def _run_here(self, work: Callable[[], T]) -> T:
        """``work`` on the calling thread (the event loop), with ``_run``'s failure handling."""
        try:
            self._refuse_during_outage()
            return work()
        except STORE_FAILURES as failure:
            raise self._unavailable(failure) from failure

    def _unavailable(self, failure: BaseException) -> AuditUnavailable:
        if isinstance(failure, CONNECTIVITY_ERRORS):
            self._down_until = time.monotonic() + OUTAGE_BACKOFF_S
        AUDIT_STORE_FAILURES.inc()
        log.error("audit store failure: %s", _short(failure))
        return AuditUnavailable(_short(failure))

    def _refuse_during_outage(self) -> None:
        if time.monotonic() < self._down_until:
            raise AuditUnavailable("audit store unreachable a moment ago; not retrying yet")

    @contextmanager
    def _chain_transaction(self) -> Iterator[Connection]:
        """One writer at a time (writer_lock.py), in a write transaction (BEGIN IMMEDIATE on SQLite)."""
        with self._writer.held():
            self._refuse_during_outage()  # the writer before us may have just found the store down
            with self.engine.connect() as connection:
                connection.execution_options(**WRITE)
                with connection.begin():
                    yield connection

    def _probe(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(select(chain_head.c.last_seq)).one()

    def _read_responses(self, keys: list[tuple[str, str]]) -> list[Found]:
        """The recorded response of each (service, hookInstance), None where there is none."""
        with self.engine.connect() as connection:
            found = _responses_on_record(connection, keys)
        return [found.get(key) for key in keys]

    def _read_answered(self, report_ids: Sequence[str], since: datetime) -> set[tuple[str, str]]:
        if not report_ids:
            return set()
        query = (
            select(card.c.report_id, card.c.topic)
            .join(feedback, feedback.c.card_seq == card.c.seq)
            .where(card.c.report_id.in_(set(report_ids)), feedback.c.outcome_timestamp >= since)
            .distinct()
        )
        with self.engine.connect() as connection:
            return {(row.report_id, row.topic) for row in connection.execute(query)}

    def _write_invocations(self, records: list[InvocationRecord]) -> list[BaseException | None]:
        """All records in one chain transaction; one already on record fails alone."""
        with self._chain_transaction() as connection:
            return _append_invocations(connection, records)

    def _write_invocations_unless_busy(
        self, records: list[InvocationRecord]
    ) -> list[BaseException | None] | None:
        """As ``_write_invocations``, or None at once when it would have to wait: another writer
        holds the lock, or a program outside the service holds SQLite's (busy timeout 0)."""
        with self._writer.held(wait=False) as free:
            if not free:
                return None
            with self.engine.connect() as connection:
                connection.execution_options(**WRITE)
                sqlite = connection.connection.dbapi_connection  # outside SQLAlchemy's transaction
                assert sqlite is not None
                sqlite.execute("PRAGMA busy_timeout=0")
                try:
                    try:
                        transaction = connection.begin()
                    except OperationalError as busy:
                        if "locked" in str(busy.orig):
                            return None
                        raise
                    with transaction:
                        return _append_invocations(connection, records)
                finally:
                    sqlite.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    def _write_feedback(
        self, service: str, items: Sequence[FeedbackRecord], client_issuer: str | None, received_at: datetime
    ) -> FeedbackReceipt:
        keyed, repeats = distinct(items)
        with self._chain_transaction() as connection:
            head = chain.lock_head(connection)
            on_record = _known_keys(connection, [key for key, _ in keyed])
            fresh = [(key, item) for key, item in keyed if key not in on_record]
            cards = _card_seqs(connection, service, [item.card_uuid for _, item in fresh])
            pending = [
                feedback_record(key, item, service, cards.get(item.card_uuid), client_issuer, received_at)
                for key, item in fresh
            ]
            if pending:
                chain.append(connection, pending, head)
        unknown = sum(1 for _, item in fresh if item.card_uuid not in cards)
        return FeedbackReceipt(
            stored=len(fresh), duplicates=repeats + len(keyed) - len(fresh), unknown_cards=unknown
        )


def _short(failure: BaseException) -> str:
    """The first line of a driver error: enough to act on, without the SQL and parameters."""
    return (str(failure).strip().splitlines() or [type(failure).__name__])[0][:300]


def _append_invocations(
    connection: Connection, records: list[InvocationRecord]
) -> list[BaseException | None]:
    """The records chained after the head, in the caller's transaction; one already on record fails alone."""
    outcomes: list[BaseException | None] = []
    head = chain.lock_head(connection)
    next_seq = head[0] + 1
    rows: list[chain.PendingRecord] = []
    # on record before this batch, then also those this batch writes (a repeat within it)
    written = _responses_on_record(connection, [(r.service, r.hook_instance) for r in records])
    for record in records:
        key = (record.service, record.hook_instance)
        existing = written.get(key)
        if existing is not None:
            outcomes.append(AlreadyRecorded(existing))
            continue
        pending = invocation_records(record, next_seq)
        rows.extend(pending)
        next_seq += len(pending)
        written[key] = jsonable(record.response)
        outcomes.append(None)
    if rows:
        chain.append(connection, rows, head)
    return outcomes


def _responses_on_record(
    connection: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Response]:
    """The recorded responses among these (service, hookInstance) pairs, in one query."""
    rows = connection.execute(
        _RESPONSES_QUERY,
        {"services": list({service for service, _ in keys}), "hook_instances": [h for _, h in keys]},
    )
    return {(row.service, row.hook_instance): row.response for row in rows}


# Built once: a statement object caches its own compiled form, where one built per call is keyed
# and looked up again on every execution.
_RESPONSES_QUERY = select(invocation.c.service, invocation.c.hook_instance, invocation.c.response).where(
    invocation.c.service.in_(bindparam("services", expanding=True)),
    invocation.c.hook_instance.in_(bindparam("hook_instances", expanding=True)),
)


def _known_keys(connection: Connection, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    query = select(feedback.c.identity_key).where(feedback.c.identity_key.in_(keys))
    return set(connection.execute(query).scalars())


def _card_seqs(connection: Connection, service: str, uuids: list[str]) -> dict[str, int]:
    """Sequence numbers of the cards this service sent, by uuid."""
    if not uuids:
        return {}
    query = (
        select(card.c.uuid, card.c.seq)
        .join(invocation, invocation.c.seq == card.c.invocation_seq)
        .where(card.c.uuid.in_(set(uuids)), invocation.c.service == service)
    )
    return {row.uuid: int(row.seq) for row in connection.execute(query)}


# ---------------------------------------------------------------------- record → rows


def invocation_records(record: InvocationRecord, invocation_seq: int) -> list[chain.PendingRecord]:
    """The invocation, then its cards, then its rule firings, as rows ready to chain."""
    rows = [chain.PendingRecord("invocation", invocation_content(record))]
    for position, sent in enumerate(record.cards):
        rows.append(
            chain.PendingRecord(
                "card",
                {
                    "invocation_seq": invocation_seq,
                    "position": position,
                    "uuid": sent.uuid,
                    "topic": sent.topic,
                    "rule_id": sent.rule_id,
                    "rule_version": sent.rule_version,
                    "indicator": sent.indicator,
                    "report_id": sent.report_id,
                    "suggestion_uuids": list(sent.suggestion_uuids),
                },
            )
        )
    for firing in record.rule_firings:
        rows.append(
            chain.PendingRecord(
                "rule-firing",
                {
                    "invocation_seq": invocation_seq,
                    "rule_id": firing.rule_id,
                    "rule_version": firing.rule_version,
                    "report_id": firing.report_id,
                    "status": firing.status,
                },
            )
        )
    return rows


def invocation_content(record: InvocationRecord) -> dict[str, Any]:
    return {
        "hook_instance": record.hook_instance,
        "service": record.service,
        "hook": record.hook,
        "client_issuer": record.client_issuer,
        "client_tenant": record.client_tenant,
        "received_at": record.received_at,
        "duration_ms": float(record.duration_ms),
        "outcome": record.outcome,
        "outcome_reason": record.outcome_reason,
        "prefetch": jsonable(record.prefetch),
        "evaluations": jsonable(record.evaluations),
        "suppressions": jsonable(record.suppressions),
        "response": jsonable(record.response),
        "extension": jsonable(record.extension),
        "artifact_id": record.artifact_id,
        "artifact_version": record.artifact_version,
        "artifact_hash": record.artifact_hash,
    }


def feedback_record(
    key: str,
    item: FeedbackRecord,
    service: str,
    card_seq: int | None,
    client_issuer: str | None,
    received_at: datetime,
) -> chain.PendingRecord:
    coded = first_coded(item.reasons)
    reasons = [
        {
            "code": r.code,
            "system": r.system,
            "display": r.display,
            "userComment": clean_comment(r.user_comment),
        }
        for r in item.reasons
    ]
    return chain.PendingRecord(
        "feedback",
        {
            "identity_key": key,
            "service": service,
            "card_uuid": item.card_uuid,
            "card_seq": card_seq,
            "unknown_card": card_seq is None,
            "outcome": item.outcome,
            "outcome_timestamp": item.outcome_timestamp,
            "accepted_suggestions": sorted(set(item.accepted_suggestions)),
            "reason_code": coded.code if coded else None,
            "reason_system": coded.system if coded else None,
            "reason_display": coded.display if coded else None,
            "user_comment": joined_comments(item.reasons),
            "reasons": reasons,
            "client_issuer": client_issuer,
            "received_at": received_at,
        },
    )
