"""`cds-service serve`: validate everything, migrate once, then run uvicorn workers."""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from cds_service.api.app import create_app
from cds_service.audit.migrate import upgrade_database
from cds_service.metrics import MULTIPROCESS_DIR_VARIABLE, multiprocess_dir
from cds_service.settings import Settings

log = logging.getLogger("cds_service.serve")

STARTUP_FAILURE = 3  # uvicorn's exit code when the application did not start
APP_FACTORY = "cds_service.api.app:create_app"


def serve(settings: Settings, *, host: str, port: int, workers: int, app_factory: str | None = None) -> int:
    """``app_factory``: the import string of another factory of the service's app (the speed
    benchmark's, which mounts its floor route); every worker builds its app with it."""
    app = create_app(settings)  # settings, artifact and clients are validated before anything runs
    _migrate(settings)
    if workers > 1 and not settings.redis_url:
        log.warning("several workers without CDS_REDIS_URL: JWT replay protection is per worker")
    log.info("serving on http://%s:%d with %d worker(s)", host, port, workers)
    signal.signal(signal.SIGTERM, _stop_normally)
    own_build = workers > 1 or app_factory is not None
    config = uvicorn.Config(
        # one worker serves the app just validated; several workers each build their own
        (app_factory or APP_FACTORY) if own_build else app,
        factory=own_build,
        host=host,
        port=port,
        workers=workers,
        log_config=_worker_logging(settings.log_level),
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    with _shared_metrics_directory(workers), suppress(KeyboardInterrupt):  # Ctrl-C: a normal stop
        if workers > 1:
            Multiprocess(config, sockets=[_listening_socket(config)]).run()
            return 0
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    return 0


def _migrate(settings: Settings) -> None:
    """Once, in the parent, before any worker opens the database."""
    upgrade_database(settings.database_url)


def _listening_socket(config: uvicorn.Config) -> socket.socket:
    """The socket the workers share, with TCP_NODELAY (accepted connections inherit it).

    uvicorn creates it without naming the protocol, so asyncio in the workers does not set
    TCP_NODELAY on their connections, and every answer then waits ~40 ms for a delayed ACK.
    """
    listener = config.bind_socket()
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def _worker_logging(level: str) -> dict[str, Any]:
    """The JSON log lines of cds_service.logs in every worker: spawned workers start with a
    blank logging setup, and uvicorn applies this dictConfig in each of them."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "cds_service.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {noisy: {"level": "WARNING"} for noisy in ("httpx", "httpcore")},
    }


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
