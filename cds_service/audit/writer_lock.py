"""One audit writer at a time: a thread lock within the process and, on a SQLite file, an
``flock`` on a file beside the database across processes.

SQLite lets one writer in at a time and makes the others poll: a worker whose ``BEGIN
IMMEDIATE`` finds the database locked sleeps 1, 2, 5, 10 … ms before trying again, however soon
the lock is free. With two workers writing that sleep, not the CPU, bounded throughput (each
worker busy about half the time). A process waiting on ``flock`` is woken by the kernel the
moment the other writer lets go. PostgreSQL needs none of this: its writers queue on the
chain-head row lock (chain.py), which wakes waiters in the same way.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriterLock:
    """Held for the whole of a write transaction, commit included."""

    def __init__(self, lock_file: Path | None) -> None:
        self._threads = threading.Lock()
        self._lock_file = lock_file
        self._descriptor: int | None = None  # opened on first use, in the process that writes

    @contextmanager
    def held(self, *, wait: bool = True) -> Iterator[bool]:
        """Held for the block (True). With ``wait=False`` the block gets False at once when
        another writer, in this process or another, has the lock."""
        if not self._threads.acquire(blocking=wait):
            yield False
            return
        try:
            if self._lock_file is None:
                yield True
                return
            descriptor = self._open()
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    @property
    def guards_a_file(self) -> bool:
        return self._lock_file is not None

    def close(self) -> None:
        with self._threads:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None

    def _open(self) -> int:
        if self._descriptor is None:
            assert self._lock_file is not None
            self._descriptor = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        return self._descriptor


def writer_lock_file(database_file: Path | None) -> Path | None:
    """Beside a SQLite database file; None for in-memory SQLite and for PostgreSQL."""
    return None if database_file is None else database_file.with_name(database_file.name + ".writer-lock")
