"""``audit verify``: walk the hash chain in sequence order and name the first broken record.

A record is broken when its sequence number is not the next one (a row was deleted or
inserted), when it does not point at the previous record's hash (rows re-ordered or replaced),
or when its content no longer gives its hash (a row was edited). The chain head must end where
the records end, else rows were removed from the tail.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from cds_service.audit import chain
from cds_service.audit.schema import CHAINED_TABLES, AnyRow, chain_head

STREAM_BATCH = 1000


@dataclass(frozen=True)
class BrokenRecord:
    kind: str
    seq: int
    identifier: str
    problem: str

    def describe(self) -> str:
        return f"{self.kind} #{self.seq} ({self.identifier}): {self.problem}"


@dataclass
class ChainReport:
    records: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    head_seq: int = 0
    head_hash: str = chain.GENESIS_HASH
    broken: BrokenRecord | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def summary(self) -> str:
        if self.broken is not None:
            return f"audit chain BROKEN at {self.broken.describe()}"
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.by_kind.items()))
        head = f"#{self.head_seq} {self.head_hash[:16]}"
        return f"audit chain ok: {self.records} records ({kinds or 'none'}); head {head}"


def verify_chain(engine: Engine) -> ChainReport:
    with engine.connect() as connection, connection.begin():
        return _walk(connection)


def _walk(connection: Connection) -> ChainReport:
    report = ChainReport()
    expected_prev = chain.GENESIS_HASH
    for kind, row in _records_in_order(connection):
        broken = _check(kind, row, report.records + 1, expected_prev)
        if broken is not None:
            report.broken = broken
            return report
        report.records += 1
        report.by_kind[kind] += 1
        expected_prev = row.record_hash
    head = connection.execute(select(chain_head.c.last_seq, chain_head.c.last_hash)).one()
    report.head_seq, report.head_hash = int(head.last_seq), str(head.last_hash)
    if (report.head_seq, report.head_hash) != (report.records, expected_prev):
        report.broken = BrokenRecord(
            "chain-head",
            report.head_seq,
            "audit_chain_head",
            f"head says #{report.head_seq} but the records end at #{report.records}"
            " (records removed from the end, or the head was edited)",
        )
    return report


def _check(kind: str, row: AnyRow, expected_seq: int, expected_prev: str) -> BrokenRecord | None:
    seq = int(row.seq)
    if seq != expected_seq:
        return BrokenRecord(
            kind,
            seq,
            identifier(kind, row),
            f"expected record #{expected_seq} here (a record was deleted or inserted)",
        )
    if row.prev_hash != expected_prev:
        return BrokenRecord(
            kind,
            seq,
            identifier(kind, row),
            "does not point at the previous record's hash (records replaced or re-ordered)",
        )
    if chain.record_hash(row.prev_hash, kind, row._asdict()) != row.record_hash:
        return BrokenRecord(
            kind, seq, identifier(kind, row), "content does not match its hash (the record was altered)"
        )
    return None


def identifier(kind: str, row: AnyRow) -> str:
    """How an operator finds the record: hookInstance, card uuid, or the card a feedback is for."""
    values = row._mapping
    if kind == "invocation":
        return f"hookInstance {values['hook_instance']}"
    if kind == "card":
        return f"card {values['uuid']}"
    if kind == "rule-firing":
        return f"rule {values['rule_id']} of invocation #{values['invocation_seq']}"
    return f"feedback on card {values['card_uuid']}"


def _records_in_order(connection: Connection) -> Iterator[tuple[str, AnyRow]]:
    streams = [_stream(connection, kind) for kind in CHAINED_TABLES]
    for _, kind, row in heapq.merge(*streams, key=lambda item: item[0]):
        yield kind, row


def _stream(connection: Connection, kind: str) -> Iterator[tuple[int, str, AnyRow]]:
    table = CHAINED_TABLES[kind]
    result = connection.execution_options(yield_per=STREAM_BATCH).execute(select(table).order_by(table.c.seq))
    for row in result:
        yield int(row.seq), kind, row
