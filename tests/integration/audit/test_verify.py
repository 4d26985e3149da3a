"""``cds-service audit verify``: passes on an intact trail, names the first record tampered with."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cds_service.audit.cli import audit_main
from cds_service.audit.records import FeedbackRecord
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.settings import Settings
from tests.integration.audit.factories import make_record

pytestmark = pytest.mark.anyio


def run_verify(database_url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = audit_main(["verify"], Settings(database_url=database_url), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


async def fill(store: SqlAuditStore) -> list[str]:
    """Three invocations and one feedback; returns the card uuids in order."""
    records = [make_record(number) for number in range(3)]
    for record in records:
        await store.record_invocation(record)
    answered = FeedbackRecord(records[0].cards[0].uuid, "overridden", datetime(2026, 7, 6, 10, tzinfo=UTC))
    await store.record_feedback(records[0].service, [answered], "https://ehr.example.org")
    return [record.cards[0].uuid for record in records]


def tamper(store: SqlAuditStore, sql: str, **values: object) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(sql), values)


async def test_an_empty_trail_verifies(store: SqlAuditStore, database_url: str) -> None:
    code, out, _ = run_verify(database_url)

    assert (code, out.strip()) == (0, "audit chain ok: 0 records (none); head #0 0000000000000000")


async def test_an_intact_trail_verifies(store: SqlAuditStore, database_url: str) -> None:
    await fill(store)

    code, out, _ = run_verify(database_url)

    assert code == 0
    assert "13 records (3 card, 1 feedback, 3 invocation, 6 rule-firing)" in out


async def test_an_edited_card_breaks_the_chain_at_that_card(store: SqlAuditStore, database_url: str) -> None:
    cards = await fill(store)
    tamper(store, "UPDATE audit_card SET topic = 'CalcBenignPattern' WHERE uuid = :uuid", uuid=cards[1])

    code, _, err = run_verify(database_url)

    assert code == 1
    assert f"audit chain BROKEN at card #6 (card {cards[1]}): content does not match its hash" in err


async def test_an_edited_outcome_breaks_the_chain_at_that_invocation(
    store: SqlAuditStore, database_url: str
) -> None:
    await fill(store)
    tamper(store, "UPDATE audit_invocation SET outcome = 'no-finding' WHERE seq = 9")

    code, _, err = run_verify(database_url)

    assert code == 1
    assert "invocation #9 (hookInstance hook-2-" in err


async def test_a_deleted_record_breaks_the_chain_at_the_next_one(
    store: SqlAuditStore, database_url: str
) -> None:
    await fill(store)
    tamper(store, "DELETE FROM audit_rule_firing WHERE seq = 3")

    code, _, err = run_verify(database_url)

    assert code == 1
    assert "rule-firing #4 (rule CalcFurtherImaging of invocation #1): expected record #3 here" in err


async def test_a_record_removed_from_the_end_is_noticed(store: SqlAuditStore, database_url: str) -> None:
    await fill(store)
    tamper(store, "DELETE FROM audit_feedback")

    code, _, err = run_verify(database_url)

    assert code == 1
    assert "chain-head #13" in err and "records end at #12" in err


async def test_a_rehashed_record_still_breaks_the_link_to_the_next(
    store: SqlAuditStore, database_url: str
) -> None:
    """Recomputing a forged row's hash does not help: the next record still points at the old one."""
    await fill(store)
    tamper(store, "UPDATE audit_invocation SET record_hash = :forged WHERE seq = 1", forged="f" * 64)

    code, _, err = run_verify(database_url)

    assert code == 1
    assert "invocation #1" in err


def test_verify_without_a_database_file_says_so(tmp_path: object) -> None:
    code, _, err = run_verify("sqlite:////nonexistent-dir/audit.sqlite3")

    assert code == 2
    assert "audit store not found" in err
