"""Real databases for the audit store: a SQLite file always, PostgreSQL when configured.

Each PostgreSQL test gets its own schema (``search_path`` in the URL), so tests run in the
shared ``test`` database without seeing each other's rows, and the schema is dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cds_service.audit.migrate import upgrade_database
from cds_service.audit.sql_store import SqlAuditStore

POSTGRES_ENV = "CDS_TEST_DATABASE_URL"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL audit tests skipped")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections see only a fresh schema of their own."""
    base = postgres_base_url()
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'audit.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL (skipped without CDS_TEST_DATABASE_URL)."""
    url: str = request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_url")
    upgrade_database(url)
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlAuditStore]:
    audit = SqlAuditStore.from_url(database_url)
    try:
        yield audit
    finally:
        await audit.close()
