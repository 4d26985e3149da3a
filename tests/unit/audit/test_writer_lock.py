"""The audit writer lock: two stores on one SQLite file never write at the same time, and the
waiting one goes on as soon as the other lets go."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cds_service.audit.writer_lock import WriterLock, writer_lock_file


def test_two_locks_on_one_file_exclude_each_other(tmp_path: Path) -> None:
    lock_file = writer_lock_file(tmp_path / "audit.sqlite3")
    assert lock_file == tmp_path / "audit.sqlite3.writer-lock"
    first, second = WriterLock(lock_file), WriterLock(lock_file)  # as two processes would hold it
    events: list[str] = []
    first_holds = threading.Event()

    def other_writer() -> None:
        first_holds.wait()
        with second.held():
            events.append("second writes")

    thread = threading.Thread(target=other_writer)
    thread.start()
    with first.held():
        first_holds.set()
        time.sleep(0.2)  # the other writer is waiting on the lock now
        events.append("first commits")
    thread.join(timeout=5)
    assert events == ["first commits", "second writes"]
    first.close()
    second.close()


def test_in_memory_and_postgresql_stores_need_no_lock_file() -> None:
    assert writer_lock_file(None) is None
    lock = WriterLock(None)
    with lock.held():
        pass
    lock.close()
