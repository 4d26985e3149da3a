"""The app as `serve` builds it (lifespan included), driven in process over ASGI, and the
fixture scenarios dated as of now."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_service.api.app import create_app
from cds_service.audit.store import MemoryAuditStore
from cds_service.fixtures import Scenario, load_scenario
from cds_service.settings import Settings

REPORT_SIGN = "/cds-services/calcification-report-sign"
RED_FLAGS = "redflag-large-deep-mass"  # full prefetch; answers a CalcRedFlags card


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def scenario(name: str = RED_FLAGS) -> Scenario:
    return load_scenario(name, datetime.now(UTC))


@asynccontextmanager
async def running_app(settings: Settings | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings or Settings(auth="off", rate_limit_per_client=0), audit=MemoryAuditStore())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.20", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition: (name, labels) → value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(exposition: str, name: str, **labels: str) -> float:
    return samples(exposition).get((name, frozenset(labels.items())), 0.0)
