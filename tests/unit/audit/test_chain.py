"""The record hash: stable for equal content, different for any change, chained to the previous."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from cds_service.audit.chain import GENESIS_HASH, record_hash

CONTENT = {"outcome": "cards", "received_at": datetime(2026, 7, 6, 9, 30, tzinfo=UTC), "labs": [1.5, "mg/dL"]}


def test_the_same_content_gives_the_same_hash_whatever_the_key_order_or_time_zone() -> None:
    reordered = {
        "labs": [1.5, "mg/dL"],
        "outcome": "cards",
        "received_at": datetime(2026, 7, 6, 11, 30, tzinfo=timezone(timedelta(hours=2))),
    }

    assert record_hash(GENESIS_HASH, "invocation", CONTENT) == record_hash(
        GENESIS_HASH, "invocation", reordered
    )


def test_chain_columns_are_not_part_of_the_content() -> None:
    with_chain = {**CONTENT, "seq": 7, "prev_hash": "a" * 64, "record_hash": "b" * 64}

    assert record_hash(GENESIS_HASH, "invocation", with_chain) == record_hash(
        GENESIS_HASH, "invocation", CONTENT
    )


def test_any_change_changes_the_hash() -> None:
    base = record_hash(GENESIS_HASH, "invocation", CONTENT)

    assert record_hash(GENESIS_HASH, "invocation", {**CONTENT, "outcome": "no-finding"}) != base
    assert record_hash(GENESIS_HASH, "card", CONTENT) != base
    assert record_hash("1" * 64, "invocation", CONTENT) != base
