"""Open orders: §3 (orders), §6.8, §6.36, §6.37."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from cds_service.clinical.evaluation import OpenOrders
from cds_service.clinical.orders import find_open_orders
from cds_service.knowledge.terminology import Terminology
from tests.unit.clinical.builders import CPT, LOINC, NOW, SNOMED, service_request

WINDOW = 30


def open_orders(terminology: Terminology, *requests: dict[str, Any], now: datetime = NOW) -> OpenOrders:
    return find_open_orders(requests, terminology, now, WINDOW)


def covered(orders: OpenOrders) -> set[str]:
    return {order.covers for order in orders.orders}


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        pytest.param("active", True, id="§3 an active ServiceRequest is an open order"),
        pytest.param("draft", True, id="§3 a draft ServiceRequest is an open order"),
        pytest.param("completed", False, id="§3 completed is not open"),
        pytest.param("revoked", False, id="§3 revoked is not open"),
        pytest.param("on-hold", False, id="§3 on-hold is not open"),
        pytest.param("entered-in-error", False, id="§3 entered-in-error is not open"),
    ],
)
def test_only_active_or_draft_orders_are_open(terminology: Terminology, status: str, is_open: bool) -> None:
    orders = open_orders(terminology, service_request((LOINC, "17861-6"), status=status))
    assert orders.covers("calcium") is is_open


@pytest.mark.parametrize(
    ("authored_days_ago", "is_open"),
    [
        pytest.param(29, True, id="§6.8 authored 29 days ago: already ordered"),
        pytest.param(30, True, id="§6.8 authored 30 days ago: still within 30 days"),
        pytest.param(31, False, id="§6.8 authored 31 days ago: no longer counts"),
        pytest.param(None, True, id="§6.8 an active or draft order without authoredOn counts as open"),
    ],
)
def test_the_order_window_counts_from_authored_on(
    terminology: Terminology, authored_days_ago: float | None, is_open: bool
) -> None:
    request = service_request((LOINC, "2160-0"), authored_days_ago=authored_days_ago)
    assert open_orders(terminology, request).covers("creatinine") is is_open


def test_the_window_is_measured_at_now(terminology: Terminology) -> None:
    """§6.37 measured at the evaluation time, also on chart-open later."""
    request = service_request((LOINC, "2160-0"), authored_days_ago=20)
    assert not open_orders(terminology, request, now=NOW + timedelta(days=15)).covers("creatinine")


def test_a_do_not_perform_request_is_not_an_order(terminology: Terminology) -> None:
    assert not open_orders(terminology, service_request((LOINC, "2160-0"), doNotPerform=True)).orders


@pytest.mark.parametrize(
    ("system", "code", "test"),
    [
        pytest.param(LOINC, "17861-6", "calcium", id="§6.36 total calcium order covers calcium"),
        pytest.param(LOINC, "1995-0", "calcium", id="§6.36 ionized calcium order covers calcium"),
        pytest.param(LOINC, "29265-6", "calcium", id="§6.36 corrected calcium order covers calcium"),
        pytest.param(LOINC, "2000-8", "calcium", id="§6.36 total calcium (mmol/L code) covers calcium"),
        pytest.param(LOINC, "2160-0", "creatinine", id="§6.36 creatinine order covers the renal core lab"),
        pytest.param(LOINC, "98979-8", "creatinine", id="§6.36 eGFR order covers the renal core lab"),
        pytest.param(LOINC, "33914-3", "creatinine", id="§6.36 MDRD eGFR order covers the renal core lab"),
        pytest.param(LOINC, "14879-1", "phosphate", id="§6.36 phosphate (mmol/L code) covers phosphate"),
        pytest.param(LOINC, "14866-8", "pth", id="§6.36 PTH (pmol/L code) covers PTH"),
        pytest.param(LOINC, "1989-3", "vitamin-d", id="§6.36 vitamin D3 covers 25-OH vitamin D"),
        pytest.param(LOINC, "1751-7", "albumin", id="§6.36 albumin order covers albumin"),
        pytest.param(LOINC, "36291-3", "mri", id="§3 MRI lower extremity, left"),
        pytest.param(LOINC, "36333-3", "mri", id="§3 MRI lower extremity, right"),
        pytest.param(LOINC, "36289-7", "mri", id="§3 MRI lower extremity, bilateral"),
        pytest.param(CPT, "73720", "mri", id="§3 MRI lower extremity, CPT 73720"),
        pytest.param(LOINC, "30625-8", "ct", id="§3 CT lower extremity without contrast"),
        pytest.param(LOINC, "36452-1", "ct", id="§3 CT lower extremity, left"),
        pytest.param(LOINC, "30709-0", "us", id="§3 US lower extremity"),
        pytest.param(
            SNOMED, "306125004", "referral-nephrology", id="§6.36 nephrology referral covers nephrology"
        ),
        pytest.param(SNOMED, "306118006", "referral-endocrinology", id="§6.36 endocrinology referral"),
        pytest.param(
            SNOMED, "183545006", "referral-sarcoma", id="§6.36 orthopaedic referral covers sarcoma work-up"
        ),
    ],
)
def test_the_same_test_is_the_analytes_value_set(
    terminology: Terminology, system: str, code: str, test: str
) -> None:
    assert covered(open_orders(terminology, service_request((system, code)))) == {test}


def test_one_request_with_several_codings_covers_several_tests(terminology: Terminology) -> None:
    request = service_request((LOINC, "17861-6"), (LOINC, "2777-1"), (LOINC, "2160-0"), sr_id="panel")
    orders = open_orders(terminology, request)
    assert covered(orders) == {"calcium", "phosphate", "creatinine"}
    assert {order.service_request_id for order in orders.orders} == {"panel"}


def test_the_order_keeps_its_authored_date(terminology: Terminology) -> None:
    (order,) = open_orders(terminology, service_request((LOINC, "2731-8"), authored_days_ago=3)).orders
    assert order.authored_on == NOW - timedelta(days=3)


@pytest.mark.parametrize(
    ("system", "code"),
    [
        pytest.param(LOINC, "718-7", id="an order outside the value sets covers nothing"),
        pytest.param("http://example.org/local", "17861-6", id="a LOINC code in another system is not LOINC"),
        pytest.param(SNOMED, "17861-6", id="codes are compared with their system"),
    ],
)
def test_other_orders_cover_nothing(terminology: Terminology, system: str, code: str) -> None:
    assert open_orders(terminology, service_request((system, code))).orders == ()


def test_a_system_alias_is_the_same_system(terminology: Terminology) -> None:
    request = service_request(("urn:oid:2.16.840.1.113883.6.1", "17861-6"))
    assert open_orders(terminology, request).covers("calcium")
