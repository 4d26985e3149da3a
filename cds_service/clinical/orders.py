"""Tests already ordered (§3, §6.8, §6.36): they are never suggested again.

An order is open when its ServiceRequest is ``active`` or ``draft``, is not a do-not-perform
request, and was authored within ``window_days`` of ``now`` — or has no ``authoredOn`` at all
(§6.8). "The same test" is the artifact's value set of the test: any calcium code covers calcium,
creatinine and eGFR codes both cover the renal core lab, a referral covers its specialty. One
ServiceRequest with several codings may cover several tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cds_service.clinical.evaluation import OpenOrder, OpenOrders
from cds_service.clinical.patient import as_utc, codings, parse_fhir_datetime
from cds_service.clinical.patient_data import Resource
from cds_service.knowledge.terminology import Terminology

OPEN_STATUSES = frozenset({"active", "draft"})


def find_open_orders(
    service_requests: Sequence[Resource], terminology: Terminology, now: datetime, window_days: int
) -> OpenOrders:
    """Every (test, ServiceRequest) pair that makes the test already ordered."""
    codes_by_test = terminology.codes_by_test
    system_by_uri = terminology.system_by_uri
    open_orders: list[OpenOrder] = []
    for request in service_requests:
        if not _is_open(request, as_utc(now), window_days):
            continue
        ordered = {
            (system_by_uri[coding["system"]], coding["code"])
            for coding in codings(request.get("code"))
            if coding.get("system") in system_by_uri
        }
        authored_on = parse_fhir_datetime(request.get("authoredOn"))
        open_orders.extend(
            OpenOrder(covers=test, service_request_id=str(request.get("id", "")), authored_on=authored_on)
            for test, codes in codes_by_test.items()
            if ordered & codes
        )
    return OpenOrders(orders=tuple(open_orders))


def _is_open(request: Resource, now: datetime, window_days: int) -> bool:
    if request.get("status") not in OPEN_STATUSES or request.get("doNotPerform") is True:
        return False
    authored_on = parse_fhir_datetime(request.get("authoredOn"))
    return authored_on is None or now - authored_on <= timedelta(days=window_days)
