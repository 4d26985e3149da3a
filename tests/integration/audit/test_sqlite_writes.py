"""On a SQLite file a batch is written on the event loop when no one else is writing; a write
that would have to wait waits in a thread, and the service keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cds_service.audit.engine import sqlite_file
from cds_service.audit.migrate import upgrade_database
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.audit.verify import verify_chain
from cds_service.audit.writer_lock import writer_lock_file
from tests.integration.audit.factories import make_record

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[SqlAuditStore]:
    upgrade_database(sqlite_url)
    audit = SqlAuditStore.from_url(sqlite_url)
    try:
        yield audit
    finally:
        await audit.close()


def database_file(store: SqlAuditStore) -> Path:
    path = sqlite_file(store.engine.url)
    assert path is not None
    return path


@contextmanager
def writer_lock_held_elsewhere(store: SqlAuditStore) -> Iterator[None]:
    """The lock as another worker holds it while it commits (another open file description)."""
    lock_file = writer_lock_file(database_file(store))
    assert lock_file is not None
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextmanager
def sqlite_locked_by_another_program(store: SqlAuditStore) -> Iterator[None]:
    """A program outside the service (a backup, the sqlite3 shell) in a write transaction."""
    outsider = sqlite3.connect(database_file(store), isolation_level=None)
    try:
        outsider.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            outsider.execute("ROLLBACK")
    finally:
        outsider.close()


async def loop_keeps_answering(seconds: float) -> float:
    """How late a short sleep wakes up: a blocked event loop would make it late by seconds."""
    started = asyncio.get_running_loop().time()
    await asyncio.sleep(seconds)
    return asyncio.get_running_loop().time() - started - seconds


async def test_a_free_store_records_a_burst_and_the_chain_holds(sqlite_store: SqlAuditStore) -> None:
    records = [make_record(n) for n in range(40)]
    await asyncio.gather(*(sqlite_store.record_invocation(r) for r in records))
    for record in records:
        assert await sqlite_store.recorded_response(record.service, record.hook_instance) == record.response
    assert verify_chain(sqlite_store.engine).ok


@pytest.mark.parametrize("held_by", [writer_lock_held_elsewhere, sqlite_locked_by_another_program])
async def test_a_write_that_must_wait_does_not_hold_up_the_event_loop(
    sqlite_store: SqlAuditStore, held_by: object
) -> None:
    record = make_record(1)
    with held_by(sqlite_store):  # type: ignore[operator]
        writing = asyncio.create_task(sqlite_store.record_invocation(record))
        lateness = await loop_keeps_answering(0.3)
        assert lateness < 0.2  # the loop ran on while the write waited
        assert not writing.done()  # and the write did wait: nothing was recorded past the lock
    await asyncio.wait_for(writing, timeout=10)
    assert await sqlite_store.recorded_response(record.service, record.hook_instance) == record.response
    assert verify_chain(sqlite_store.engine).ok
