"""The security gate at the edge: who is calling, and may they ask what they ask.

Only this package reads `Authorization` headers. Built once at start-up from the settings: the
clients file is loaded here, so a bad one (or `CDS_AUTH=jwt` without one) stops start-up.

Order per call (CDS_AUTH=jwt): bearer token → signature and claims (`tokens.py`) → the
client's rate limit → the jti replay check. The replay check comes last so that neither a
refused token nor a rate-limited one uses up its jti: a client told to retry later may resend.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from starlette.requests import Request

from cds_service.errors import Forbidden, Unauthorized
from cds_service.security.caller import Caller
from cds_service.security.clients import (
    SecurityConfigError,
    TrustedClients,
    load_clients,
)
from cds_service.security.jwks import (
    HttpClientFactory,
    JwksFetcher,
    RemoteKeySets,
    default_http_client,
)
from cds_service.security.metrics import AUTH_FAILURES
from cds_service.security.rate_limit import RateLimiter
from cds_service.security.replay import (
    MemoryReplayCache,
    RedisReplayCache,
    ReplayCache,
    replay_key,
)
from cds_service.security.tokens import TokenPolicy, TokenVerifier, VerifiedToken
from cds_service.settings import Settings

log = logging.getLogger("cds_service.security")


class SecurityGate:
    def __init__(
        self,
        settings: Settings,
        *,
        http_client_factory: HttpClientFactory = default_http_client,
        replay_cache: ReplayCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clients = _trusted_clients(settings)
        self._wall_clock = wall_clock
        self._limiter = RateLimiter(settings.rate_limit_per_client, clock)
        self._fetcher = JwksFetcher(http_client_factory)
        self._verifier = TokenVerifier(
            self.clients,
            RemoteKeySets(self._fetcher, settings.jwks_min_refresh_s, clock),
            TokenPolicy(max_lifetime_s=settings.jwt_max_lifetime_s, leeway_s=settings.jwt_leeway_s),
        )
        self._replay = replay_cache or _replay_cache(settings)
        _announce(settings, self.clients)

    async def admit(self, request: Request) -> Caller:
        """Authenticate the call; raise Unauthorized (401) or RateLimited (429)."""
        if self.settings.auth == "off":
            return self._admit_unauthenticated(request)
        try:
            return await self._admit_client(request)
        except Unauthorized as refusal:
            _record_refusal(refusal.reason, request)
            raise

    def check_fhir_server(self, caller: Caller, fhir_server: str | None) -> None:
        """An unlisted fhirServer is refused before any outbound connection (403)."""
        if fhir_server is not None and not caller.lists_server(fhir_server):
            log.warning("call refused (403): fhirServer not registered for client %s", caller.name)
            raise Forbidden(
                "fhirServer is not among the FHIR servers registered for this client", expression="fhirServer"
            )

    async def close(self) -> None:
        await self._fetcher.close()
        await self._replay.close()

    async def _admit_client(self, request: Request) -> Caller:
        token = bearer_token(request)
        verified = await self._verifier.verify(token, called_url(request, self.settings.public_base_url))
        issuer = verified.client.issuer
        self._limiter.take(issuer)
        if not await self._replay.first_use(replay_key(issuer, verified.jti), self._replay_ttl(verified)):
            raise Unauthorized("replayed-jti")
        return Caller(
            issuer=issuer,
            tenant=verified.client.tenant,
            fhir_servers=verified.client.fhir_servers,
            remote_address=_remote(request),
        )

    def _admit_unauthenticated(self, request: Request) -> Caller:
        """CDS_AUTH=off (development only): anyone, limited per remote address (decision 2)."""
        remote = _remote(request)
        log.warning(
            "CDS_AUTH=off: %s %s accepted without authentication (development only)",
            request.method,
            request.url.path,
        )
        self._limiter.take(f"address:{remote}")
        servers = self.clients.all_fhir_servers() if len(self.clients) else None
        return Caller(issuer=None, fhir_servers=servers, remote_address=remote)

    def _replay_ttl(self, verified: VerifiedToken) -> int:
        """Remember a jti as long as its token could still be accepted (exp plus leeway)."""
        remaining = verified.expires_at + self.settings.jwt_leeway_s - self._wall_clock()
        return max(1, math.ceil(remaining))


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`; never logged."""
    values = request.headers.getlist("authorization")
    if not values:
        raise Unauthorized("missing-token")
    scheme, _, token = values[0].strip().partition(" ")
    if len(values) > 1 or scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("malformed-authorization")
    return token.strip()


def called_url(request: Request, public_base_url: str | None) -> str:
    """The URL the client called, as its `aud` must name it: behind a proxy the request's own
    URL is not what the client saw, so CDS_PUBLIC_BASE_URL (no trailing slash) replaces it."""
    url = request.url
    base = public_base_url or f"{url.scheme}://{url.netloc}"
    return base + url.path


def _remote(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _record_refusal(reason: str, request: Request) -> None:
    AUTH_FAILURES.labels(reason=reason).inc()
    log.warning(
        "call refused (401 %s): %s %s from %s", reason, request.method, request.url.path, _remote(request)
    )


def _trusted_clients(settings: Settings) -> TrustedClients:
    if settings.clients_file is not None:
        return load_clients(settings.clients_file)
    if settings.auth == "jwt":
        raise SecurityConfigError(
            "CDS_AUTH=jwt (the default) needs CDS_CLIENTS_FILE: the trusted EHR clients, their keys "
            "and FHIR servers (see the README, section Connecting an EHR). For local development only, set "
            "CDS_AUTH=off."
        )
    return TrustedClients({})


def _replay_cache(settings: Settings) -> ReplayCache:
    if settings.auth == "off" or settings.redis_url is None:
        return MemoryReplayCache()
    try:
        return RedisReplayCache(settings.redis_url)
    except ValueError as exc:
        raise SecurityConfigError(f"CDS_REDIS_URL: {exc}") from None


def _announce(settings: Settings, clients: TrustedClients) -> None:
    if settings.auth == "off":
        log.warning("CDS_AUTH=off: calls are NOT authenticated; for local development only")
        if not len(clients):
            log.warning("CDS_AUTH=off without CDS_CLIENTS_FILE: any fhirServer will be queried")
        return
    log.info(
        "JWT authentication on: %d trusted client(s)%s",
        len(clients),
        "; jti replay cache shared through Redis" if settings.redis_url else "",
    )
