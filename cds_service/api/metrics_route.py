"""``GET /metrics``: Prometheus text exposition, no JWT (design.md, operator interface).

Keep it off the public ingress: it names clients' outcomes, not patients, but is for the
operator's scraper only (deploy/kubernetes/networkpolicy.yaml lets only the monitoring
namespace in besides the ingress controller).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.responses import Response

from cds_service.metrics import CONTENT_TYPE, mark_worker_dead, render_metrics


@asynccontextmanager
async def _worker_lifetime(app: FastAPI) -> AsyncIterator[None]:
    yield
    mark_worker_dead()


metrics_router = APIRouter(lifespan=_worker_lifetime)


@metrics_router.get("/metrics")
async def metrics() -> Response:
    return Response(render_metrics(), media_type=CONTENT_TYPE)
