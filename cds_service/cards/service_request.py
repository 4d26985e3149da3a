"""Draft ServiceRequests for suggestions, built and validated with fhir.resources (R4B models,
whose ServiceRequest matches R4; design.md decision 10)."""

from __future__ import annotations

from typing import Any

import orjson
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards.order_codes import OrderCodes, order_codes
from cds_service.clinical.evaluation import Evaluation, Laterality, SuggestedOrder
from cds_service.knowledge.terminology import Terminology

SIDE_TEXT = {Laterality.LEFT: "left", Laterality.RIGHT: "right", Laterality.BILATERAL: "bilateral"}


def draft_service_request(
    order: SuggestedOrder, evaluation: Evaluation, terminology: Terminology
) -> dict[str, Any]:
    """The draft order for this patient and report.

    The order's own part is built and validated once per kind of order (validating with the
    FHIR models costs ~0.5 ms); the patient and report references are FHIR ids already checked
    at the edge, filled into a fresh copy (parsed from the template's JSON: a tenth of the cost
    of a deep copy).
    """
    resource: dict[str, Any] = orjson.loads(_validated_template(order, terminology))
    resource["subject"] = {"reference": f"Patient/{evaluation.patient_id}"}
    resource["reasonReference"][0]["reference"] = f"DiagnosticReport/{evaluation.report_id}"
    return resource


# (id of the terminology, order) → (the terminology, kept alive so its id is never reused, template)
_TEMPLATES: dict[tuple[int, SuggestedOrder], tuple[Terminology, bytes]] = {}


def _validated_template(order: SuggestedOrder, terminology: Terminology) -> bytes:
    key = (id(terminology), order)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = (terminology, orjson.dumps(_build(order, terminology)))
    return _TEMPLATES[key][1]


def _build(order: SuggestedOrder, terminology: Terminology) -> dict[str, Any]:
    codes = order_codes(terminology, order)
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "category": [{"coding": [codes.category]}],
        "code": _code(order, codes),
        "subject": {"reference": "Patient/template"},
        "reasonReference": [
            {
                "reference": "DiagnosticReport/template",
                "display": "Radiology report with soft-tissue calcification",
            }
        ],
        "note": [{"text": order.reason}],
    }
    if codes.reason_code:
        resource["reasonCode"] = [{"coding": [codes.reason_code], "text": codes.reason_text or ""}]
    if order.kind == "imaging" and order.laterality in SIDE_TEXT:
        side = SIDE_TEXT[order.laterality]
        resource["bodySite"] = [{"coding": [codes.body_site], "text": f"{side} lower limb"}]
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
