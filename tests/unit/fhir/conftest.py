from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx

from cds_service.fhir import FhirAccess, make_http_client
from cds_service.settings import Settings
from tests.unit.fhir.fhir_data import BASE, TOKEN


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> Settings:
    return Settings(deadline_ms=1500, fhir_timeout_ms=1000, fhir_max_pages=3)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(settings) as client:
        yield client


@pytest.fixture
def fhir() -> Iterator[respx.MockRouter]:
    """The FHIR server at the HTTP level; a call to an unmocked URL fails the test."""
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def access(http: httpx.AsyncClient) -> FhirAccess:
    return FhirAccess(base_url=BASE, http=http, access_token=TOKEN)


@pytest.fixture
def open_access(http: httpx.AsyncClient) -> FhirAccess:
    """An open test server on the client's list: queried without a token (decision 1)."""
    return FhirAccess(base_url=BASE, http=http)
