"""The app with a real SQLite audit store behind it and the admin token set to ``ADMIN_TOKEN``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from cds_service.api.app import create_app
from cds_service.audit.migrate import upgrade_database
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.audit.store import AuditStore
from cds_service.knowledge import Artifact
from cds_service.settings import Settings
from tests.integration.audit.conftest import postgres_url

__all__ = ["postgres_url"]  # a fixture of the audit tests, used here too

ADMIN_TOKEN = "t"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ENDPOINTS = ["/governance", "/governance/api/summary"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    upgrade_database(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[SqlAuditStore]:
    audit = SqlAuditStore.from_url(database_url)
    yield audit
    audit.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, database_url: str) -> str:
    """SQLite, and PostgreSQL when CDS_TEST_DATABASE_URL is set (skipped otherwise)."""
    if request.param == "sqlite":
        return database_url
    url: str = request.getfixturevalue("postgres_url")
    upgrade_database(url)
    return url


@pytest.fixture
def any_store(any_database_url: str) -> Iterator[SqlAuditStore]:
    audit = SqlAuditStore.from_url(any_database_url)
    yield audit
    audit.engine.dispose()


def settings(database_url: str, admin_token: str | None = ADMIN_TOKEN) -> Settings:
    return Settings(auth="off", admin_token=admin_token, database_url=database_url, rate_limit_per_client=0)


@asynccontextmanager
async def serving(
    store: AuditStore,
    database_url: str,
    admin_token: str | None = ADMIN_TOKEN,
    artifact: Artifact | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as `serve` runs it (lifespan included), the given store behind it."""
    app = create_app(settings(database_url, admin_token), audit=store, artifact=artifact)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
