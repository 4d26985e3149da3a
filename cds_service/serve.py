"""`cds-service serve`: validate everything, migrate once, then run uvicorn workers."""

from __future__ import annotations

import logging
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from cds_service.api.app import create_app
from cds_service.audit.migrate import upgrade_database
from cds_service.metrics import MULTIPROCESS_DIR_VARIABLE, multiprocess_dir
from cds_service.settings import Settings

log = logging.getLogger("cds_service.serve")


def serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    create_app(settings)  # settings, artifact and clients are validated before anything runs
    _migrate(settings)
    if workers > 1 and not settings.redis_url:
        log.warning("several workers without CDS_REDIS_URL: JWT replay protection is per worker")
    log.info("serving on http://%s:%d with %d worker(s)", host, port, workers)
    signal.signal(signal.SIGTERM, _stop_normally)
    with _shared_metrics_directory(workers):
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


def _stop_normally(signum: int, frame: FrameType | None) -> None:
    """SIGTERM is how Kubernetes and `docker stop` ask us to stop: exit 0. uvicorn handles it
    while serving (graceful shutdown) and re-raises it afterwards; this handler then ends the
    process with 0 instead of letting it die by the signal."""
    raise SystemExit(0)


@contextmanager
def _shared_metrics_directory(workers: int) -> Iterator[None]:
    """Several workers write their metrics to one fresh directory that /metrics sums; it is
    set before the workers are spawned and removed when serve ends (cds_service.metrics)."""
    if workers == 1 or multiprocess_dir() is not None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="cds-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
        try:
            yield
        finally:
            os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
