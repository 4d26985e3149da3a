"""JWK Sets fetched from a client's URL (`jwks_url`, or a `jku` listed in `jku_allowed`).

Fetched lazily, cached, and refetched only when a token names a `kid` we do not hold — at most
once per CDS_JWKS_MIN_REFRESH_S per URL, so tokens with made-up kids cannot make us hammer an
EHR's key endpoint. Cached keys older than `MAX_AGE_S` are refreshed so that a key the EHR
withdrew stops being trusted; if that refresh fails, the old keys keep working (an EHR's JWKS
outage should not lock its clinicians out).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import httpx
import orjson

from cds_service.errors import Unauthorized
from cds_service.security.keys import KeySetError, VerificationKey, parse_jwks

log = logging.getLogger("cds_service.security")

MAX_AGE_S = 3600.0
MAX_JWKS_BYTES = 256 * 1024
FETCH_TIMEOUT = httpx.Timeout(2.0, connect=1.0)

HttpClientFactory = Callable[[], httpx.AsyncClient]
FetchJwks = Callable[[str], Awaitable[object]]


class JwksUnavailable(Exception):
    """A JWKS URL did not give a usable JWK Set (network, status, size or JSON)."""


def default_http_client() -> httpx.AsyncClient:
    """Short timeouts (a token check is on the request path) and no redirects (no SSRF hops)."""
    return httpx.AsyncClient(
        timeout=FETCH_TIMEOUT, follow_redirects=False, headers={"Accept": "application/json"}
    )


class JwksFetcher:
    """GETs a JWK Set with its own small HTTP client, created on first use."""

    def __init__(self, http_client_factory: HttpClientFactory = default_http_client) -> None:
        self._factory = http_client_factory
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, url: str) -> object:
        if self._client is None:
            self._client = self._factory()
        try:
            body = await self._get(self._client, url)
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"{url}: {type(exc).__name__}") from None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise JwksUnavailable(f"{url}: not JSON") from None

    @staticmethod
    async def _get(client: httpx.AsyncClient, url: str) -> bytes:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise JwksUnavailable(f"{url}: HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksUnavailable(f"{url}: larger than {MAX_JWKS_BYTES} bytes")
            return bytes(body)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class RemoteKeySet:
    """The cached keys of one JWKS URL."""

    def __init__(
        self, url: str, fetch: FetchJwks, min_refresh_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self._fetch = fetch
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._lock = asyncio.Lock()

    def cached(self, kid: str) -> VerificationKey | None:
        """A held key, unless the set is due for its periodic refresh."""
        return self._keys.get(kid) if self._is_fresh() else None

    async def key(self, kid: str) -> VerificationKey:
        """The key for `kid`, fetching the set if needed and allowed; else Unauthorized."""
        async with self._lock:  # concurrent tokens with a new kid cause one fetch, not many
            if self.cached(kid) is None and self._may_fetch():
                await self._refresh()
            key = self._keys.get(kid)  # after a failed periodic refresh: the old key still holds
        if key is None:
            raise Unauthorized("unknown-kid")
        return key

    def _is_fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < MAX_AGE_S

    def _may_fetch(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self._min_refresh_s

    async def _refresh(self) -> None:
        """Replace the keys; on failure keep the old ones (their age is logged)."""
        self._last_attempt = self._clock()
        try:
            self._keys = parse_jwks(await self._fetch(self.url), strict=False)
        except (JwksUnavailable, KeySetError) as exc:
            log.warning(
                "cannot refresh JWKS %s (%s); keeping %d cached key(s)", self.url, exc, len(self._keys)
            )
            return
        self._fetched_at = self._clock()
        log.info("fetched JWKS %s: %d key(s)", self.url, len(self._keys))


class RemoteKeySets:
    """One `RemoteKeySet` per URL, shared by every client that names that URL."""

    def __init__(
        self, fetch: FetchJwks, min_refresh_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._sets: dict[str, RemoteKeySet] = {}

    def for_url(self, url: str) -> RemoteKeySet:
        if url not in self._sets:
            self._sets[url] = RemoteKeySet(url, self._fetch, self._min_refresh_s, self._clock)
        return self._sets[url]
