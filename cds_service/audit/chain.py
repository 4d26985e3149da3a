"""The hash chain: every audit row's hash covers its content and the hash of the row before it.

One global sequence runs through invocations, cards, rule firings and feedback, so a deleted,
inserted or edited row anywhere breaks the chain at that row. Writers serialise on the
``audit_chain_head`` row: ``SELECT … FOR UPDATE`` on PostgreSQL, and on SQLite the
``BEGIN IMMEDIATE`` write lock (see engine.py) — so two processes can never take the same
sequence number or chain onto the same predecessor.

    record_hash = SHA-256( prev_hash ␟ kind ␟ canonical JSON of the row's content )
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, insert, select, update

from cds_service.audit.schema import CHAINED_TABLES, chain_head

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = frozenset({"seq", "prev_hash", "record_hash"})
HEAD_ID = 1


class ChainNotInitialised(Exception):
    """The chain-head row is missing: the migrations have not been applied."""


@dataclass(frozen=True)
class PendingRecord:
    """A row waiting for its place in the chain; ``link`` fills in seq references."""

    kind: str  # a key of CHAINED_TABLES
    content: dict[str, Any]


def canonical(value: Any) -> Any:
    """Timestamps as fixed-width UTC text, so a row hashes the same before and after storage."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def record_hash(prev_hash: str, kind: str, content: Mapping[str, Any]) -> str:
    body = {str(name): canonical(value) for name, value in content.items() if name not in CHAIN_FIELDS}
    payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(b"\x1f" + kind.encode() + b"\x1f")
    digest.update(payload)
    return digest.hexdigest()


def lock_head(connection: Connection) -> tuple[int, str]:
    """Take the chain head for this transaction; every other writer waits until commit."""
    row = connection.execute(_HEAD_FOR_UPDATE).one_or_none()
    if row is None:
        raise ChainNotInitialised("audit chain head missing; run the audit migrations")
    return int(row.last_seq), str(row.last_hash)


def append(connection: Connection, records: Sequence[PendingRecord], head: tuple[int, str]) -> list[int]:
    """Chain and insert the records in order after ``head``; returns their sequence numbers."""
    last_seq, last_hash = head
    assigned: list[int] = []
    rows_by_table: dict[str, list[dict[str, Any]]] = {}
    for pending in records:
        last_seq += 1
        digest = record_hash(last_hash, pending.kind, pending.content)
        row = {**pending.content, "seq": last_seq, "prev_hash": last_hash, "record_hash": digest}
        rows_by_table.setdefault(pending.kind, []).append(row)
        assigned.append(last_seq)
        last_hash = digest
    for kind, rows in rows_by_table.items():
        connection.execute(_INSERTS[kind], rows)
    connection.execute(_MOVE_HEAD, {"new_seq": last_seq, "new_hash": last_hash})
    return assigned


# Statements built once: each caches its own compiled form (one built per call is keyed and
# looked up again on every execution).
_HEAD_FOR_UPDATE = (
    select(chain_head.c.last_seq, chain_head.c.last_hash).where(chain_head.c.id == HEAD_ID).with_for_update()
)
_INSERTS = {kind: insert(table) for kind, table in CHAINED_TABLES.items()}
_MOVE_HEAD = (
    update(chain_head)
    .where(chain_head.c.id == HEAD_ID)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)
