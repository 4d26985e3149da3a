"""The async FHIR client, in three layers: the invocation deadline → paging → one GET.

One ``httpx.AsyncClient`` is shared by the whole process (built by ``make_http_client`` in the
app's lifespan); a ``FhirClient`` wraps it for one invocation with the request's ``fhirServer``,
its bearer token and its deadline. Rules every call follows, because the EHR trusts us with them:

- the token goes only to the ``fhirServer`` base the request named: next links, references and
  attachment URLs elsewhere are not followed, and redirects are never followed;
- the token is never logged, never in an exception message and never in a repr;
- each request waits at most ``min(CDS_FHIR_TIMEOUT_MS, time left before the deadline)``;
- httpx's exceptions become ``FhirError``s here and nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from cds_service.clinical.patient_data import FetchedAttachment
from cds_service.fhir.bundle import entry_resources, next_link
from cds_service.fhir.deadline import Deadline, DeadlineExceeded
from cds_service.fhir.errors import (
    FhirError,
    FhirForeignUrl,
    FhirHttpStatus,
    FhirInvalidJson,
    FhirTimeout,
    FhirUnexpectedResource,
    FhirUnreachable,
)
from cds_service.settings import Settings

__all__ = ["FhirAccess", "FhirCall", "FhirClient", "SearchResult", "make_http_client", "same_base"]

Resource = Mapping[str, Any]
T = TypeVar("T")

FHIR_JSON = "application/fhir+json"
_JSON_MEDIA_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process-wide pooled client; one per process, closed by the app's lifespan."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
        timeout=httpx.Timeout(settings.fhir_timeout_s),
        follow_redirects=False,
        headers={"Accept": FHIR_JSON},
    )


@dataclass(frozen=True)
class FhirAccess:
    """Permission to query one FHIR server for one invocation (decided by ``security``)."""

    base_url: str
    http: httpx.AsyncClient = field(repr=False)
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FhirCall:
    """One FHIR request as metrics see it: ``outcome`` is "ok" or a ``FhirError.outcome``."""

    outcome: str
    seconds: float


@dataclass(frozen=True)
class SearchResult:
    resources: tuple[Resource, ...]
    incomplete: str | None = None  # why some pages were not read, when some were not


def same_base(url: str, base_url: str) -> bool:
    """True when ``url`` lies under ``base_url`` (same scheme, host, port and path prefix)."""
    try:
        candidate, base = httpx.URL(url), httpx.URL(base_url)
    except httpx.InvalidURL:
        return False
    if (candidate.scheme, candidate.host, candidate.port) != (base.scheme, base.host, base.port):
        return False
    base_path = base.path.rstrip("/")
    return candidate.path == base_path or candidate.path.startswith(base_path + "/")


class FhirClient:
    """FHIR reads, searches and Binary fetches for one invocation."""

    def __init__(
        self, access: FhirAccess, deadline: Deadline, settings: Settings, calls: list[FhirCall]
    ) -> None:
        self._access = access
        self._base = access.base_url.rstrip("/")
        self._deadline = deadline
        self._timeout_s = settings.fhir_timeout_s
        self._max_pages = settings.fhir_max_pages
        self._calls = calls  # appended to as calls finish, so metrics see them even on failure

    def __repr__(self) -> str:
        return f"FhirClient(base_url={self._base!r})"

    # ------------------------------------------------------------ what the gatherer calls

    async def read(self, reference: str, resource_type: str) -> Resource:
        """Read one resource by relative reference or by absolute URL on this server."""
        url = self._url(reference)
        return await self._call(url, lambda response: _resource_of_type(response, resource_type))

    async def search(self, query: str) -> SearchResult:
        """Run a search and read up to CDS_FHIR_MAX_PAGES pages of it (the first included)."""
        first_page = await self.read(query, "Bundle")
        return await self.remaining_pages(first_page)

    async def remaining_pages(self, bundle: Resource, pages_read: int = 1) -> SearchResult:
        """Follow ``next`` links from a page already in hand (ours or a prefetched one).

        A page that fails after the first ends the search with what was read so far, marked
        incomplete: the first pages (newest first, as our templates sort) are still good data.
        """
        resources = list(entry_resources(bundle))
        while (link := next_link(bundle)) is not None:
            if pages_read >= self._max_pages:
                return SearchResult(tuple(resources), f"more than {self._max_pages} pages; rest not read")
            try:
                bundle = await self.read(link, "Bundle")
            except FhirError as error:
                return SearchResult(tuple(resources), f"page {pages_read + 1}: {error.message}")
            pages_read += 1
            resources.extend(entry_resources(bundle))
        return SearchResult(tuple(resources))

    async def attachment(self, reference: str) -> FetchedAttachment:
        """Fetch a ``presentedForm.url``: a Binary resource (JSON, base64) or the raw content."""
        return await self._call(self._url(reference), _attachment_of)

    # ------------------------------------------------------------ one GET

    def _url(self, reference: str) -> str:
        """An absolute URL on this server, or ``FhirForeignUrl`` before anything is sent."""
        url = reference if urlsplit(reference).scheme else f"{self._base}/{reference.lstrip('/')}"
        if not same_base(url, self._base):
            raise FhirForeignUrl()
        return url

    async def _call(self, url: str, handle: Callable[[httpx.Response], T]) -> T:
        """One GET plus reading its body, timed and counted whatever happens."""
        started = time.monotonic()
        outcome = "cancelled"
        try:
            result = handle(await self._get(url))
            outcome = "ok"
            return result
        except FhirError as error:
            outcome = error.outcome
            raise
        except DeadlineExceeded:
            outcome = "deadline"
            raise
        finally:
            self._calls.append(FhirCall(outcome, time.monotonic() - started))

    async def _get(self, url: str) -> httpx.Response:
        budget = self._deadline.remaining()
        if budget <= 0:
            raise DeadlineExceeded("the invocation deadline passed before a FHIR request")
        timeout = min(self._timeout_s, budget)
        try:
            async with asyncio.timeout(timeout):
                response = await self._access.http.get(
                    url, headers=self._headers(), timeout=timeout, follow_redirects=False
                )
        except (TimeoutError, httpx.TimeoutException):
            if timeout >= budget:
                raise DeadlineExceeded("the invocation deadline passed during a FHIR request") from None
            raise FhirTimeout() from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise FhirUnreachable(type(error).__name__) from None
        if not response.is_success:
            raise FhirHttpStatus(response.status_code)
        return response

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON}
        if self._access.access_token:
            headers["Authorization"] = f"Bearer {self._access.access_token}"
        return headers


# ---------------------------------------------------------------- reading bodies


def _json_resource(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise FhirInvalidJson() from None
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FhirInvalidJson()
    return body


def _resource_of_type(response: httpx.Response, resource_type: str) -> Resource:
    resource = _json_resource(response)
    if resource["resourceType"] != resource_type:
        raise FhirUnexpectedResource(resource_type, resource["resourceType"])
    return resource


def _attachment_of(response: httpx.Response) -> FetchedAttachment:
    content_type = response.headers.get("content-type", "application/octet-stream")
    if content_type.split(";")[0].strip().lower() not in _JSON_MEDIA_TYPES:
        return FetchedAttachment(content_type=content_type, data=response.content)
    binary = _resource_of_type(response, "Binary")
    return FetchedAttachment(
        content_type=str(binary.get("contentType") or "application/octet-stream"),
        data=_base64_data(binary),
    )


def _base64_data(binary: Resource) -> bytes:
    data = binary.get("data")
    if not isinstance(data, str) or not data:
        raise FhirInvalidJson("Binary has no data")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        raise FhirInvalidJson("Binary data is not base64") from None
