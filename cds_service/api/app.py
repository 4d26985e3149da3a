"""The FastAPI application: shared resources from the lifespan, routes, error handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cds_service.api.errors import install_error_handlers
from cds_service.api.feedback_routes import feedback_router
from cds_service.api.governance_routes import governance_router
from cds_service.api.metrics_route import metrics_router
from cds_service.api.routes import router
from cds_service.api.slashes import CollapseSlashes
from cds_service.api.unexpected import UnexpectedErrors
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.audit.store import AuditStore
from cds_service.fhir.client import make_http_client
from cds_service.knowledge import Artifact, load_artifact
from cds_service.security.gate import SecurityGate
from cds_service.services.registry import build_services
from cds_service.services.resources import ServiceResources
from cds_service.settings import Settings, load_settings

log = logging.getLogger("cds_service.app")


def create_app(
    settings: Settings | None = None, *, audit: AuditStore | None = None, artifact: Artifact | None = None
) -> FastAPI:
    """Build the app; settings, artifact and clients are validated here, before serving."""
    settings = settings or load_settings()
    artifact = artifact or load_artifact(settings.knowledge_file)
    gate = SecurityGate(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = audit or SqlAuditStore.from_url(settings.database_url)  # migrated by `serve`
        async with make_http_client(settings) as http_client:
            resources = ServiceResources(
                settings=settings,
                artifact=artifact,
                http_client=http_client,
                audit=store,
            )
            app.state.resources = resources
            app.state.services = build_services(resources)
            _settle_start_up_objects()
            yield
        await gate.close()
        if audit is None:
            await store.close()

    app = FastAPI(
        title="Calcification CDS Hooks service",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.gate = gate
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(feedback_router)
    app.include_router(metrics_router)
    app.include_router(governance_router)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(CollapseSlashes)
    return app


def _settle_start_up_objects() -> None:
    """Keep the garbage collector out of the calls' way, once per process (an app built again
    in the same process, as in tests, changes nothing).

    What start-up built (artifact, compiled lexicons, models, pools) lives as long as the process:
    frozen, it is no longer walked by every full collection. A call allocates thousands of
    short-lived containers (a 43 KiB request body alone), almost all freed by reference counting;
    collecting the youngest generation every 10,000 allocations instead of every 700 leaves them
    to that. Measured on report-sign: collections took 0.28 ms per call before, 0.08 ms after.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
