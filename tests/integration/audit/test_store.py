"""The audit store on a real database: every invocation on record, none lost under load."""

from __future__ import annotations

import asyncio
import threading

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from cds_service.audit.migrate import upgrade_database
from cds_service.audit.records import OUTCOMES
from cds_service.audit.schema import card, invocation, rule_firing
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.audit.store import AlreadyRecorded, AuditUnavailable
from cds_service.audit.verify import verify_chain
from tests.integration.audit.factories import make_record

pytestmark = pytest.mark.anyio


def count(store: SqlAuditStore, table: object) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_every_outcome_is_recorded_with_its_response(store: SqlAuditStore, outcome: str) -> None:
    record = make_record(outcome=outcome)

    await store.record_invocation(record)

    assert await store.recorded_response(record.service, record.hook_instance) == record.response
    with store.engine.connect() as connection:
        row = connection.execute(select(invocation)).one()
    assert (row.outcome, row.hook_instance, row.received_at) == (
        outcome,
        record.hook_instance,
        record.received_at,
    )
    assert row.evaluations[0]["labs"][0]["effective"].startswith("2026-07-03T09:30:00")
    assert verify_chain(store.engine).ok


async def test_cards_and_rule_firings_are_rows_of_their_own(store: SqlAuditStore) -> None:
    await store.record_invocation(make_record(cards=2))

    with store.engine.connect() as connection:
        cards = connection.execute(select(card).order_by(card.c.position)).all()
        firings = connection.execute(select(rule_firing.c.rule_id, rule_firing.c.status)).all()
    assert [len(c.suggestion_uuids) for c in cards] == [2, 2]
    assert cards[1].suggestion_uuids[0].endswith("-1-a")
    assert {tuple(f) for f in firings} == {
        ("CalcMetabolicWorkup", "fired"),
        ("CalcFurtherImaging", "would-fire"),
    }


async def test_unknown_hook_instance_has_no_recorded_response(store: SqlAuditStore) -> None:
    assert await store.recorded_response("calcification-report-sign", "never-seen") is None


async def test_concurrent_look_ups_each_get_their_own_recorded_response(store: SqlAuditStore) -> None:
    """Look-ups made together share one query; each still gets its own answer (decision 4),
    keyed by service and hookInstance together."""
    recorded = [make_record(number) for number in range(6)]
    patient_view = "calcification-patient-view"
    other_service = make_record(9, hook_instance=recorded[0].hook_instance, service=patient_view)
    for record in [*recorded, other_service]:
        await store.record_invocation(record)
    asked = [(r.service, r.hook_instance) for r in recorded]
    asked += [("calcification-patient-view", recorded[1].hook_instance), (recorded[2].service, "never-seen")]

    answers = await asyncio.gather(*(store.recorded_response(service, hook) for service, hook in asked))

    assert answers == [*(r.response for r in recorded), None, None]
    assert await store.recorded_response(other_service.service, other_service.hook_instance) == (
        other_service.response
    )


async def test_a_repeated_hook_instance_keeps_the_first_record(store: SqlAuditStore) -> None:
    first = make_record(hook_instance="same-instance")
    again = make_record(2, hook_instance="same-instance")
    await store.record_invocation(first)

    with pytest.raises(AlreadyRecorded) as raised:
        await store.record_invocation(again)

    assert raised.value.response == first.response
    assert isinstance(raised.value, AuditUnavailable)  # a caller unaware of it answers no cards
    assert count(store, invocation) == 1


async def test_a_hook_instance_repeated_within_one_batch_is_recorded_once(store: SqlAuditStore) -> None:
    first = make_record(hook_instance="twice-at-once")
    again = make_record(2, hook_instance="twice-at-once")

    outcomes = await asyncio.gather(
        store.record_invocation(first), store.record_invocation(again), return_exceptions=True
    )

    assert outcomes[0] is None and isinstance(outcomes[1], AlreadyRecorded)
    assert outcomes[1].response == first.response
    assert count(store, invocation) == 1


async def test_the_same_hook_instance_for_another_service_is_another_invocation(store: SqlAuditStore) -> None:
    await store.record_invocation(make_record(hook_instance="shared"))
    await store.record_invocation(
        make_record(2, hook_instance="shared", service="calcification-patient-view")
    )

    assert count(store, invocation) == 2


async def test_200_concurrent_invocations_are_all_recorded_once_and_chain(store: SqlAuditStore) -> None:
    records = [make_record(number) for number in range(200)]

    await asyncio.gather(*(store.record_invocation(record) for record in records))

    assert count(store, invocation) == 200
    with store.engine.connect() as connection:
        instances = set(connection.execute(select(invocation.c.hook_instance)).scalars())
    assert instances == {record.hook_instance for record in records}
    report = verify_chain(store.engine)
    assert report.ok, report.summary()
    assert report.by_kind == {"invocation": 200, "card": 200, "rule-firing": 400}


def test_two_processes_writing_at_once_share_one_chain(database_url: str) -> None:
    """Two engines (as two workers would have) in two threads, 50 invocations each."""
    failures: list[BaseException] = []

    def worker(offset: int) -> None:
        async def run() -> None:
            worker_store = SqlAuditStore.from_url(database_url)
            try:
                batch = [make_record(offset + n) for n in range(50)]
                await asyncio.gather(*(worker_store.record_invocation(r) for r in batch))
            finally:
                await worker_store.close()

        try:
            asyncio.run(run())
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in (0, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    checker = SqlAuditStore.from_url(database_url)
    try:
        assert count(checker, invocation) == 100
        report = verify_chain(checker.engine)
        assert report.ok, report.summary()
    finally:
        checker.engine.dispose()


def failures_counted() -> float:
    return REGISTRY.get_sample_value("cds_audit_store_failures_total") or 0.0


@pytest.fixture(params=["sqlite-unwritable", "postgresql-closed-port"])
async def unreachable_store(request: pytest.FixtureRequest, tmp_path: object) -> object:
    if request.param == "sqlite-unwritable":
        url = "sqlite:////proc/no-such-dir/audit.sqlite3"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    down = SqlAuditStore.from_url(url)
    yield down
    await down.close()


async def test_a_store_that_cannot_be_reached_is_unavailable_and_not_ready(
    unreachable_store: SqlAuditStore,
) -> None:
    before = failures_counted()

    with pytest.raises(AuditUnavailable):
        await unreachable_store.record_invocation(make_record())
    assert await unreachable_store.ready() is False
    assert failures_counted() >= before + 2


async def test_a_store_without_migrations_is_not_ready(sqlite_url: str) -> None:
    unmigrated = SqlAuditStore.from_url(sqlite_url.replace("/var/", "/"))
    try:
        assert await unmigrated.ready() is False
        with pytest.raises(AuditUnavailable):
            await unmigrated.record_invocation(make_record())
    finally:
        await unmigrated.close()


async def test_a_migrated_store_is_ready(store: SqlAuditStore) -> None:
    assert await store.ready() is True


async def test_after_an_outage_calls_fail_fast_until_a_probe_succeeds(sqlite_url: str) -> None:
    """A partitioned database must not hold every answer for a connect timeout."""
    recovering = SqlAuditStore.from_url(sqlite_url)
    try:
        with pytest.raises(AuditUnavailable):
            await recovering.record_invocation(make_record(1))  # not migrated yet: no tables
        upgrade_database(sqlite_url)

        with pytest.raises(AuditUnavailable, match="not retrying yet"):
            await recovering.record_invocation(make_record(2))
        assert await recovering.ready() is True
        await recovering.record_invocation(make_record(3))
    finally:
        await recovering.close()
