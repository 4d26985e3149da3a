"""Refusing a replayed token: each (issuer, jti) is accepted once while the token is valid.

In memory per process by default. With CDS_REDIS_URL the record is shared through Redis
(`SET key NX EX ttl`: one atomic step, so two replicas receiving the same token at once cannot
both accept it). If Redis cannot be reached, the check falls back to the per-process cache,
is counted and logged, and the service stays ready (design decision 5): availability over
cross-replica replay protection, for as long as Redis is down.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from cds_service.security.metrics import REPLAY_CACHE_FALLBACKS

log = logging.getLogger("cds_service.security")

REDIS_TIMEOUT_S = 0.25
REDIS_RETRY_AFTER_S = 5.0  # after a failure, skip Redis this long instead of waiting on every call
KEY_PREFIX = "cds:jti:"


def replay_key(issuer: str, jti: str) -> str:
    """A fixed-size key: a jti is client-chosen text, and the issuer scopes it."""
    digest = hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()
    return KEY_PREFIX + digest


class ReplayCache(Protocol):
    async def first_use(self, key: str, ttl_s: int) -> bool:
        """Record `key` for `ttl_s` seconds; False when it was already recorded."""
        ...

    async def close(self) -> None: ...


class MemoryReplayCache:
    """Per process; expired keys are dropped as new ones arrive (a heap ordered by expiry)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []

    async def first_use(self, key: str, ttl_s: int) -> bool:
        now = self._clock()
        self._drop_expired(now)
        if key in self._expiry:
            return False
        self._expiry[key] = now + ttl_s
        heapq.heappush(self._queue, (now + ttl_s, key))
        return True

    def __len__(self) -> int:
        return len(self._expiry)

    def _drop_expired(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            expires_at, key = heapq.heappop(self._queue)
            if self._expiry.get(key) == expires_at:
                del self._expiry[key]

    async def close(self) -> None:
        return None


class RedisReplayCache:
    """Shared by every worker and replica pointed at the same Redis."""

    def __init__(
        self, url: str, fallback: MemoryReplayCache | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self._fallback = fallback or MemoryReplayCache(clock)
        self._clock = clock
        self._down_since: float | None = None

    async def first_use(self, key: str, ttl_s: int) -> bool:
        if self._skipping_redis():
            return await self._fall_back(key, ttl_s)
        try:
            stored = await self._redis.set(key, b"1", nx=True, ex=max(ttl_s, 1))
        except (RedisError, OSError) as exc:
            self._mark_down(exc)
            return await self._fall_back(key, ttl_s)
        self._mark_up()
        return bool(stored)

    def _skipping_redis(self) -> bool:
        return self._down_since is not None and self._clock() - self._down_since < REDIS_RETRY_AFTER_S

    def _mark_down(self, error: Exception) -> None:
        if self._down_since is None:
            log.error(
                "Redis replay cache unreachable (%s); using the per-process cache", type(error).__name__
            )
        self._down_since = self._clock()

    def _mark_up(self) -> None:
        if self._down_since is not None:
            log.warning("Redis replay cache reachable again")
            self._down_since = None

    async def _fall_back(self, key: str, ttl_s: int) -> bool:
        REPLAY_CACHE_FALLBACKS.inc()
        return await self._fallback.first_use(key, ttl_s)

    async def close(self) -> None:
        await self._redis.aclose()
