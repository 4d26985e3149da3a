"""`cds-service serve`: validate everything, migrate once, then run uvicorn workers."""

from __future__ import annotations

import logging

import uvicorn

from cds_service.api.app import create_app
from cds_service.audit.migrate import upgrade_database
from cds_service.settings import Settings

log = logging.getLogger("cds_service.serve")


def serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    create_app(settings)  # settings, artifact and clients are validated before anything runs
    _migrate(settings)
    if workers > 1 and not settings.redis_url:
        log.warning("several workers without CDS_REDIS_URL: JWT replay protection is per worker")
    log.info("serving on http://%s:%d with %d worker(s)", host, port, workers)
    uvicorn.run(
        "cds_service.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _migrate(settings: Settings) -> None:
    """Once, in the parent, before any worker opens the database."""
    upgrade_database(settings.database_url)
