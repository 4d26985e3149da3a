"""Two replicas sharing Redis: a token accepted by one is a replay for the other."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.security.conftest import BASE, EHR, asgi_client, bearer, build_app, jwt_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("CDS_TEST_REDIS_URL")
    if not url:
        pytest.skip("CDS_TEST_REDIS_URL not set")
    return url


async def test_a_jti_used_on_one_replica_is_refused_on_the_other(clients_file: Path, redis_url: str) -> None:
    settings = jwt_settings(clients_file, redis_url=redis_url)
    headers = bearer(EHR.token(f"{BASE}/cds-services"))
    async with asgi_client(build_app(settings)) as first, asgi_client(build_app(settings)) as second:
        accepted = await first.get("/cds-services", headers=headers)
        replayed = await second.get("/cds-services", headers=headers)
        again = await first.get("/cds-services", headers=headers)
    assert accepted.status_code == 200
    assert replayed.status_code == 401
    assert again.status_code == 401


async def test_redis_down_still_refuses_replays_within_a_replica(clients_file: Path) -> None:
    settings = jwt_settings(clients_file, redis_url="redis://127.0.0.1:1/0")
    headers = bearer(EHR.token(f"{BASE}/cds-services"))
    async with asgi_client(build_app(settings)) as client:
        accepted = await client.get("/cds-services", headers=headers)
        replayed = await client.get("/cds-services", headers=headers)
    assert accepted.status_code == 200  # Redis down: the service stays available
    assert replayed.status_code == 401
