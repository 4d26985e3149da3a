"""Routes only: parse, call one function, return. No clinical logic here."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cds_service.api.body import read_json_object
from cds_service.api.deps import CallerDep, Gate, Resources, Service
from cds_service.api.responses import JsonResponse
from cds_service.cdshooks.models import Discovery
from cds_service.cdshooks.operation_outcome import operation_outcome

router = APIRouter()


@router.get("/cds-services")
async def discovery(request: Request, caller: CallerDep) -> JsonResponse:
    services = request.app.state.services.values()
    body = Discovery(services=[service.definition for service in services])
    return JsonResponse(body.model_dump(mode="json", exclude_none=True))


@router.post("/cds-services/{service_id}")
async def call_service(
    request: Request, caller: CallerDep, service: Service, gate: Gate, resources: Resources
) -> JsonResponse:
    settings = resources.settings
    body = await read_json_object(request, settings.max_body_bytes, settings.max_json_depth)
    fhir_server = body.get("fhirServer")
    gate.check_fhir_server(caller, fhir_server if isinstance(fhir_server, str) else None)
    return JsonResponse(await service.invoke(body, caller, resources))


@router.get("/healthz")
async def healthz() -> JsonResponse:
    return JsonResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(resources: Resources) -> JsonResponse:
    """Not ready while the audit store cannot record: no card may leave unaudited (decision 5)."""
    if not await resources.audit.ready():
        outcome = operation_outcome("transient", "audit store unreachable; not ready")
        return JsonResponse(outcome, status_code=503)
    return JsonResponse({"status": "ready"})
