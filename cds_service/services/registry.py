"""The CDS services this deployment offers, by id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cds_service.cdshooks.models import ServiceDefinition
from cds_service.security.caller import Caller
from cds_service.services import patient_view, report_sign
from cds_service.services.resources import ServiceResources

Invoke = Callable[[dict[str, Any], Caller, ServiceResources], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class CdsService:
    definition: ServiceDefinition
    invoke: Invoke


def build_services(resources: ServiceResources) -> dict[str, CdsService]:
    services = [
        CdsService(report_sign.definition(resources.settings, resources.artifact), report_sign.invoke),
        CdsService(patient_view.definition(resources.settings, resources.artifact), patient_view.invoke),
    ]
    return {service.definition.id: service for service in services}
