"""The governance view: ``GET /governance`` (HTML) and ``GET /governance/api/summary`` (JSON).

Both need ``Authorization: Bearer <CDS_ADMIN_TOKEN>`` (compared in constant time; 401 without
it). With no admin token configured the view does not exist: 404, the same answer as any unknown
path, so an unconfigured deployment does not even reveal it. The EHR clients' JWTs play no part.
Optional ``?since=`` (ISO date or date-time; default the last 12 weeks) picks the period.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse

from cds_service.api.deps import Resources
from cds_service.api.responses import JsonResponse
from cds_service.audit.store import AuditUnavailable
from cds_service.cdshooks.operation_outcome import operation_outcome
from cds_service.errors import BadRequest, Unauthorized, UnknownService
from cds_service.governance import GovernanceSource, collect, render_page
from cds_service.metrics import AUTH_FAILURES
from cds_service.security.gate import bearer_token
from cds_service.services.resources import ServiceResources
from cds_service.settings import Settings

log = logging.getLogger("cds_service.governance")

governance_router = APIRouter(prefix="/governance")

NO_STORE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_HEADERS = {
    **NO_STORE,
    # No script, no outside resource: only the page's own inline style and SVG.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


async def require_admin(request: Request) -> None:
    """404 when governance is disabled, 401 unless the bearer token is the admin token.
    (async: a plain function would run in FastAPI's thread pool.)"""
    settings: Settings = request.app.state.settings
    if not settings.admin_token:
        raise UnknownService(f"no such endpoint: {request.url.path}")
    try:
        presented = bearer_token(request)
    except Unauthorized as refusal:
        _refused(refusal.reason, request)
        raise
    if not hmac.compare_digest(presented.encode(), settings.admin_token.encode()):
        _refused("wrong-admin-token", request)
        raise Unauthorized("wrong-admin-token")


def _refused(reason: str, request: Request) -> None:
    AUTH_FAILURES.labels(reason=f"governance-{reason}").inc()
    log.warning("governance refused (401 %s): %s %s", reason, request.method, request.url.path)


Admin = Annotated[None, Depends(require_admin)]


def parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise BadRequest(
            "since must be an ISO 8601 date or date-time, e.g. 2026-07-01", expression="since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _summary(resources: ServiceResources, since: str | None) -> dict[str, Any] | JsonResponse:
    """The numbers, or the 503 answer when the store cannot give them."""
    start = parse_since(since)
    store = resources.audit
    if not isinstance(store, GovernanceSource):
        return JsonResponse(
            operation_outcome("not-supported", "this audit store keeps no governance numbers"),
            status_code=503,
            headers=NO_STORE,
        )
    try:
        return await collect(store, resources.artifact, resources.clock(), start)
    except AuditUnavailable:
        return JsonResponse(
            operation_outcome("transient", "audit store unreachable; try again"),
            status_code=503,
            headers=NO_STORE,
        )


@governance_router.get("", response_model=None)
async def governance_page(
    admin: Admin, resources: Resources, since: str | None = None
) -> HTMLResponse | JsonResponse:
    summary = await _summary(resources, since)
    if isinstance(summary, JsonResponse):
        return summary
    return HTMLResponse(render_page(summary), headers=PAGE_HEADERS)


@governance_router.get("/api/summary")
async def governance_summary(admin: Admin, resources: Resources, since: str | None = None) -> JsonResponse:
    summary = await _summary(resources, since)
    return summary if isinstance(summary, JsonResponse) else JsonResponse(summary, headers=NO_STORE)
