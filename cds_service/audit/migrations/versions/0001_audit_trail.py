"""Audit trail: chain head, invocations, cards, rule firings, feedback.

Revision ID: 0001_audit_trail
Revises:
Create Date: 2026-07-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_audit_trail"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def _chain_columns() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False
        ),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
    ]


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])
    op.create_table(
        "audit_invocation",
        *_chain_columns(),
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("hook", sa.String(128), nullable=False),
        sa.Column("client_issuer", sa.String(512)),
        sa.Column("client_tenant", sa.String(256)),
        sa.Column("received_at", _timestamp(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("outcome_reason", sa.Text()),
        sa.Column("prefetch", sa.JSON(), nullable=False),
        sa.Column("evaluations", sa.JSON(), nullable=False),
        sa.Column("suppressions", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("extension", sa.JSON()),
        sa.Column("artifact_id", sa.String(128)),
        sa.Column("artifact_version", sa.String(32)),
        sa.Column("artifact_hash", sa.String(64)),
        sa.UniqueConstraint("service", "hook_instance", name="uq_audit_invocation_service_hook_instance"),
    )
    op.create_index("ix_audit_invocation_received_at", "audit_invocation", ["received_at"])
    op.create_table(
        "audit_card",
        *_chain_columns(),
        sa.Column("invocation_seq", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.String(32), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("suggestion_uuids", sa.JSON(), nullable=False),
        sa.UniqueConstraint("uuid", name="uq_audit_card_uuid"),
    )
    op.create_index("ix_audit_card_invocation_seq", "audit_card", ["invocation_seq"])
    op.create_table(
        "audit_rule_firing",
        *_chain_columns(),
        sa.Column("invocation_seq", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.String(32), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_audit_rule_firing_invocation_seq", "audit_rule_firing", ["invocation_seq"])
    op.create_index("ix_audit_rule_firing_rule_id", "audit_rule_firing", ["rule_id"])
    op.create_table(
        "audit_feedback",
        *_chain_columns(),
        sa.Column("identity_key", sa.String(64), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("card_seq", sa.BigInteger()),
        sa.Column("unknown_card", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", _timestamp(), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("reason_code", sa.String(128)),
        sa.Column("reason_system", sa.String(512)),
        sa.Column("reason_display", sa.String(512)),
        sa.Column("user_comment", sa.Text()),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("client_issuer", sa.String(512)),
        sa.Column("received_at", _timestamp(), nullable=False),
        sa.UniqueConstraint("identity_key", name="uq_audit_feedback_identity_key"),
    )
    op.create_index("ix_audit_feedback_card_uuid", "audit_feedback", ["card_uuid"])
    op.create_index("ix_audit_feedback_card_seq", "audit_feedback", ["card_seq"])


def downgrade() -> None:
    for table in (
        "audit_feedback",
        "audit_rule_firing",
        "audit_card",
        "audit_invocation",
        "audit_chain_head",
    ):
        op.drop_table(table)
