"""The invocation frame with the real store: no card leaves unaudited (issue 5, item 2).

A fake use case stands in for the clinical engine, so these tests hold whatever the rules do:
the record is committed before the answer, a repeated hookInstance gets the recorded answer
(design.md decision 4), and a store that cannot record means no cards (decision 5).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from cds_service.audit.records import CardRecord
from cds_service.audit.schema import card, invocation
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.audit.store import AuditStore
from cds_service.cdshooks.models import Card, HookRequest, Source
from cds_service.knowledge import load_artifact
from cds_service.security.caller import Caller
from cds_service.services.invocation import Invocation, UseCaseResult, run_invocation
from cds_service.services.resources import ServiceResources
from cds_service.settings import Settings

pytestmark = pytest.mark.anyio

SERVICE = "calcification-report-sign"
NOW = datetime(2026, 7, 6, 9, 30, tzinfo=UTC)


class OneCardUseCase:
    """Answers one card each time it is run, and counts how often that was."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self, invocation: Invocation) -> UseCaseResult:
        self.runs += 1
        card_uuid, suggestion_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        sent = Card(
            uuid=card_uuid,
            summary="Check calcium and phosphate",
            indicator="warning",
            source=Source(label="Calcification CDS"),
        )
        record = CardRecord(
            card_uuid,
            "CalcMetabolicWorkup",
            "CalcMetabolicWorkup",
            "1.0.0",
            "warning",
            "report-1",
            (suggestion_uuid,),
        )
        return UseCaseResult(outcome="cards", cards=[sent], card_records=[record])


def hook_request(instance: str | None = None) -> HookRequest:
    return HookRequest.model_validate(
        {
            "hook": "report-sign",
            "hookInstance": instance or str(uuid.uuid4()),
            "context": {
                "userId": "Practitioner/1",
                "patientId": "p1",
                "reportId": "report-1",
                "category": "RAD",
                "status": "final",
            },
        }
    )


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def resources_with(audit: AuditStore, http_client: httpx.AsyncClient) -> ServiceResources:
    return ServiceResources(
        settings=Settings(auth="off"),
        artifact=load_artifact(),
        http_client=http_client,
        audit=audit,
        clock=lambda: NOW,
    )


async def invoke(
    resources: ServiceResources, use_case: OneCardUseCase, request: HookRequest
) -> dict[str, object]:
    return await run_invocation(
        service_id=SERVICE,
        request=request,
        caller=Caller(issuer=None),
        resources=resources,
        use_case=use_case,
    )


async def test_the_card_sent_is_the_card_on_record(
    store: SqlAuditStore, http_client: httpx.AsyncClient
) -> None:
    answer = await invoke(resources_with(store, http_client), OneCardUseCase(), hook_request())

    with store.engine.connect() as connection:
        recorded = connection.execute(select(invocation.c.response, invocation.c.artifact_hash)).one()
        card_uuids = list(connection.execute(select(card.c.uuid)).scalars())
    assert recorded.response == answer
    assert card_uuids == [answer["cards"][0]["uuid"]]  # type: ignore[index]
    assert recorded.artifact_hash == load_artifact().content_hash


async def test_a_repeated_hook_instance_gets_the_recorded_answer(
    store: SqlAuditStore, http_client: httpx.AsyncClient
) -> None:
    use_case = OneCardUseCase()
    resources = resources_with(store, http_client)
    request = hook_request("repeated-instance")

    first = await invoke(resources, use_case, request)
    again = await invoke(resources, use_case, request)

    assert again == first and use_case.runs == 1


async def test_a_store_that_cannot_record_means_no_cards(http_client: httpx.AsyncClient) -> None:
    down = SqlAuditStore.from_url("postgresql+psycopg://postgres@127.0.0.1:1/test")
    failures_before = REGISTRY.get_sample_value("cds_audit_store_failures_total") or 0.0
    try:
        answer = await invoke(resources_with(down, http_client), OneCardUseCase(), hook_request())
    finally:
        await down.close()

    assert answer == {"cards": []}
    assert (REGISTRY.get_sample_value("cds_audit_store_failures_total") or 0.0) > failures_before
