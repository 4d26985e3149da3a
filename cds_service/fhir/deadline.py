"""One deadline per invocation (CDS_DEADLINE_MS), on the monotonic clock.

Every FHIR request gets ``min(CDS_FHIR_TIMEOUT_MS, time left)``, and the whole gathering runs
inside ``Deadline.enforced()``, which cancels whatever is still in flight when time is up and
raises ``DeadlineExceeded``. The use case answers ``{"cards": []}`` then: a half-gathered
snapshot is never evaluated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

__all__ = ["Deadline", "DeadlineExceeded"]


class DeadlineExceeded(Exception):
    """The invocation's deadline passed before its data was gathered.

    Not a ``FhirError``: no FHIR failure handling may swallow it.
    """


@dataclass(frozen=True)
class Deadline:
    expires_at: float  # time.monotonic() seconds

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.expires_at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` when no time is left to start more work."""
        if self.expired:
            raise DeadlineExceeded("the invocation deadline passed")

    @asynccontextmanager
    async def enforced(self) -> AsyncIterator[None]:
        """Run the block until the deadline; cancel it and raise ``DeadlineExceeded`` after."""
        self.check()
        timeout = asyncio.timeout(self.remaining())
        try:
            async with timeout:
                yield
        except TimeoutError:
            if timeout.expired():
                raise DeadlineExceeded("the invocation deadline passed") from None
            raise
