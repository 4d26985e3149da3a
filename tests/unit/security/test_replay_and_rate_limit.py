"""jti replay cache (memory, Redis, Redis down) and the per-client token bucket."""

from __future__ import annotations

import os
import uuid

import pytest

from cds_service.errors import RateLimited
from cds_service.security.metrics import REPLAY_CACHE_FALLBACKS
from cds_service.security.rate_limit import RateLimiter
from cds_service.security.replay import MemoryReplayCache, RedisReplayCache, replay_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_memory_cache_refuses_a_second_use_until_expiry() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(clock)
    assert await cache.first_use("a", ttl_s=10)
    assert not await cache.first_use("a", ttl_s=10)
    clock.now += 10
    assert await cache.first_use("a", ttl_s=10)
    assert await cache.first_use("b", ttl_s=10)
    clock.now += 100
    await cache.first_use("c", ttl_s=10)
    assert len(cache) == 1  # expired keys are dropped, memory stays bounded by the token lifetime


def test_replay_keys_are_scoped_by_issuer() -> None:
    assert replay_key("https://a", "1") != replay_key("https://b", "1")
    assert replay_key("https://a", "1") == replay_key("https://a", "1")


def _fallbacks() -> float:
    return REPLAY_CACHE_FALLBACKS._value.get()


@pytest.mark.anyio
async def test_redis_down_falls_back_to_memory_and_is_counted() -> None:
    cache = RedisReplayCache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    before = _fallbacks()
    try:
        assert await cache.first_use("k", ttl_s=30)
        assert not await cache.first_use("k", ttl_s=30)  # still protected, per process
    finally:
        await cache.close()
    assert _fallbacks() - before == 2


@pytest.mark.anyio
async def test_redis_shared_between_two_replicas() -> None:
    url = os.environ.get("CDS_TEST_REDIS_URL")
    if not url:
        pytest.skip("CDS_TEST_REDIS_URL not set")
    first, second = RedisReplayCache(url), RedisReplayCache(url)
    key = replay_key("https://ehr.example.org", str(uuid.uuid4()))
    before = _fallbacks()
    try:
        assert await first.first_use(key, ttl_s=30)
        assert not await second.first_use(key, ttl_s=30)
    finally:
        await first.close()
        await second.close()
    assert _fallbacks() == before


def test_bucket_allows_a_burst_of_twice_the_rate_then_429_with_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock)
    for _ in range(4):
        limiter.take("https://ehr.example.org")
    with pytest.raises(RateLimited) as caught:
        limiter.take("https://ehr.example.org")
    assert caught.value.retry_after_s == 1
    limiter.take("https://other.example.org")  # one client's burst does not starve another
    clock.now += 0.5
    limiter.take("https://ehr.example.org")


def test_retry_after_reflects_a_slow_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.1, clock)
    limiter.take("c")
    with pytest.raises(RateLimited) as caught:
        limiter.take("c")
    assert caught.value.retry_after_s == 10


def test_rate_zero_is_off() -> None:
    limiter = RateLimiter(0)
    for _ in range(1000):
        limiter.take("c")
