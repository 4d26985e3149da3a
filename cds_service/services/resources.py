"""What every use case needs, built once at start-up by the app's lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from cds_service.audit.store import AuditStore
from cds_service.knowledge import Artifact
from cds_service.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceResources:
    settings: Settings
    artifact: Artifact
    http_client: httpx.AsyncClient
    audit: AuditStore
    clock: Callable[[], datetime] = field(default=utc_now)
