"""The audit tables (SQLAlchemy Core), shared by the store, the migrations, export and verify.

    audit_chain_head   one row: the last sequence number and hash; writers lock it
    audit_invocation   one row per answered call (hookInstance unique per service)
    audit_card         one row per card sent, with its rule and suggestions
    audit_rule_firing  one row per rule that fired (or, silent, would have) per report
    audit_feedback     one row per distinct feedback item (design.md decision 7)

Every row of the four record tables carries ``seq`` (one global sequence across them),
``prev_hash`` and ``record_hash``: the hash chain ``audit verify`` walks. Governance numbers
are plain GROUP BYs over these tables: firings and would-fire by rule, cards by rule, feedback
joined to its card by ``card_seq``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeAlias

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Row
from sqlalchemy.types import TypeDecorator

AnyRow: TypeAlias = Row[*tuple[Any, ...]]  # a row of any audit table

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps go in and come out as aware UTC, on SQLite (no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _chain_columns() -> list[Column[Any]]:
    return [
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
        Column("prev_hash", String(64), nullable=False),
        Column("record_hash", String(64), nullable=False),
    ]


chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

invocation = Table(
    "audit_invocation",
    metadata,
    *_chain_columns(),
    Column("hook_instance", String(128), nullable=False),
    Column("service", String(128), nullable=False),
    Column("hook", String(128), nullable=False),
    Column("client_issuer", String(512)),
    Column("client_tenant", String(256)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("outcome_reason", Text),
    Column("prefetch", JSON, nullable=False),
    Column("evaluations", JSON, nullable=False),
    Column("suppressions", JSON, nullable=False),
    Column("response", JSON, nullable=False),
    Column("extension", JSON),
    Column("artifact_id", String(128)),
    Column("artifact_version", String(32)),
    Column("artifact_hash", String(64)),
    UniqueConstraint("service", "hook_instance", name="uq_audit_invocation_service_hook_instance"),
    Index(None, "received_at"),
)

card = Table(
    "audit_card",
    metadata,
    *_chain_columns(),
    Column("invocation_seq", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    Column("uuid", String(64), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("rule_version", String(32), nullable=False),
    Column("indicator", String(16), nullable=False),
    Column("report_id", String(64), nullable=False),
    Column("suggestion_uuids", JSON, nullable=False),
    UniqueConstraint("uuid", name="uq_audit_card_uuid"),
    Index(None, "invocation_seq"),
)

rule_firing = Table(
    "audit_rule_firing",
    metadata,
    *_chain_columns(),
    Column("invocation_seq", BigInteger, nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("rule_version", String(32), nullable=False),
    Column("report_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Index(None, "invocation_seq"),
    Index(None, "rule_id"),
)

feedback = Table(
    "audit_feedback",
    metadata,
    *_chain_columns(),
    Column("identity_key", String(64), nullable=False),
    Column("service", String(128), nullable=False),
    Column("card_uuid", String(128), nullable=False),
    Column("card_seq", BigInteger),  # None: no card with this uuid was sent by this service
    Column("unknown_card", Boolean, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", UtcDateTime, nullable=False),
    Column("accepted_suggestions", JSON, nullable=False),
    Column("reason_code", String(128)),
    Column("reason_system", String(512)),
    Column("reason_display", String(512)),
    Column("user_comment", Text),
    Column("reasons", JSON, nullable=False),  # every reason given, in order
    Column("client_issuer", String(512)),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("identity_key", name="uq_audit_feedback_identity_key"),
    Index(None, "card_uuid"),
    Index(None, "card_seq"),
)

CHAINED_TABLES: dict[str, Table] = {
    "invocation": invocation,
    "card": card,
    "rule-firing": rule_firing,
    "feedback": feedback,
}
