"""Draft ServiceRequests for suggestions, built and validated with fhir.resources (R4B models,
whose ServiceRequest matches R4; design.md decision 10)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards.order_codes import OrderCodes, order_codes
from cds_service.clinical.evaluation import Evaluation, Laterality, SuggestedOrder
from cds_service.knowledge.terminology import Terminology

SIDE_TEXT = {Laterality.LEFT: "left", Laterality.RIGHT: "right", Laterality.BILATERAL: "bilateral"}


def draft_service_request(
    order: SuggestedOrder, evaluation: Evaluation, terminology: Terminology
) -> dict[str, Any]:
    codes = order_codes(terminology, order)
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "category": [{"coding": [codes.category]}],
        "code": _code(order, codes),
        "reasonReference": [
            {
                "reference": f"DiagnosticReport/{evaluation.report_id}",
                "display": "Radiology report with soft-tissue calcification",
            }
        ],
        "note": [{"text": order.reason}],
    }
    if evaluation.patient_id:
        resource["subject"] = {"reference": f"Patient/{evaluation.patient_id}"}
    if codes.reason_code:
        resource["reasonCode"] = [{"coding": [codes.reason_code], "text": codes.reason_text or ""}]
    if order.kind == "imaging" and order.laterality in SIDE_TEXT:
        resource["bodySite"] = [
            {"coding": [codes.body_site], "text": f"{SIDE_TEXT[order.laterality]} lower limb"}
        ]
    validated = ServiceRequest.model_validate(resource)
    dumped: dict[str, Any] = validated.model_dump(mode="json", exclude_none=True)
    return dumped


def _code(order: SuggestedOrder, codes: OrderCodes) -> dict[str, Any]:
    text = order.label
    if order.kind == "imaging" and order.laterality in SIDE_TEXT:
        text = f"{order.label}, {SIDE_TEXT[order.laterality]}"
    concept: dict[str, Any] = {"text": text}
    if codes.codings:
        concept["coding"] = list(codes.codings)
    return concept
