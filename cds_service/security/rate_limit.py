"""A token bucket per client, so one misbehaving integration cannot starve the others.

Sustained `rate` requests per second with bursts of up to twice that. Buckets are keyed by the
verified issuer (by remote address with CDS_AUTH=off). Idle buckets refill to full and are then
indistinguishable from new ones, so they are dropped when the table grows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from cds_service.errors import RateLimited

MAX_IDLE_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class RateLimiter:
    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = max(2 * rate_per_s, 1.0)  # a fractional rate still admits one request
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str) -> None:
        """Spend one request for `client`, or raise RateLimited with the wait in seconds."""
        if not self.enabled:
            return
        now = self._clock()
        bucket = self._refilled(client, now)
        if bucket.tokens < 1:
            raise RateLimited(retry_after_s=max(1, math.ceil((1 - bucket.tokens) / self.rate)))
        bucket.tokens -= 1

    def _refilled(self, client: str, now: float) -> _Bucket:
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_IDLE_BUCKETS:
                self._drop_full_buckets(now)
            bucket = self._buckets[client] = _Bucket(tokens=self.burst, updated_at=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated_at) * self.rate)
        bucket.updated_at = now
        return bucket

    def _drop_full_buckets(self, now: float) -> None:
        for client, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated_at) * self.rate >= self.burst:
                del self._buckets[client]
