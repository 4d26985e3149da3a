"""The codes of a suggested order, looked up in the artifact's terminology (never in code).

Imaging takes the finding's side (§6.9, §6.15): a side-specific code when one exists, the
side-less code otherwise, and text with CPT 73720 when the MRI's side is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cds_service.clinical.evaluation import Laterality, SuggestedOrder
from cds_service.knowledge.terminology import Code, SystemCode, Terminology


@dataclass(frozen=True)
class OrderCodes:
    codings: tuple[dict[str, Any], ...]
    category: dict[str, Any]
    body_site: dict[str, Any]
    reason_code: dict[str, Any] | None = None
    reason_text: str | None = None


def coding(terminology: Terminology, code: SystemCode) -> dict[str, Any]:
    result = {"system": terminology.system_uri(code.system), "code": code.code}
    if code.display:
        result["display"] = code.display
    return result


def snomed(terminology: Terminology, code: Code) -> dict[str, Any]:
    result = {"system": terminology.system_uri("snomed"), "code": code.code}
    if code.display:
        result["display"] = code.display
    return result


def _order_code(terminology: Terminology, order: SuggestedOrder) -> SystemCode | None:
    orderable = terminology.orders[order.test]
    side = order.laterality.value if order.laterality is not Laterality.UNKNOWN else None
    if side is not None and side in orderable.by_side:
        return orderable.by_side[side]
    return orderable.code or orderable.side_unknown


def order_codes(terminology: Terminology, order: SuggestedOrder) -> OrderCodes:
    orderable = terminology.orders[order.test]
    code = _order_code(terminology, order)
    return OrderCodes(
        codings=(coding(terminology, code),) if code else (),
        category=snomed(terminology, terminology.order_categories[orderable.kind]),
        body_site=snomed(terminology, terminology.body_sites["lower-limb"]),
        reason_code=coding(terminology, orderable.reason) if orderable.reason else None,
        reason_text=orderable.service_text,
    )
