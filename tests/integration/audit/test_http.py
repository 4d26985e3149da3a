"""The feedback endpoint and /readyz over HTTP, with the real audit store behind the app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from cds_service.audit.migrate import upgrade_database
from cds_service.audit.records import InvocationRecord
from cds_service.audit.schema import feedback
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.settings import Settings
from tests.integration.audit.factories import make_record

pytestmark = pytest.mark.anyio

SERVICE = "calcification-report-sign"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"
WHEN = "2026-07-06T10:05:31Z"
OVERRIDE = {
    "reason": {
        "system": "urn:calcification-cds:override",
        "code": "already-done",
        "display": "Already done",
        "userSelected": True,
    }
}


@asynccontextmanager
async def running_app(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app as `serve` runs it, lifespan included (the store is built from the settings)."""
    from cds_service.api.app import create_app

    app = create_app(Settings(auth="off", database_url=database_url, rate_limit_per_client=0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(database_url) as http:
        yield http


@pytest.fixture
async def sent(store: SqlAuditStore) -> InvocationRecord:
    """An invocation on record whose card the clinician then answers."""
    record = make_record(service=SERVICE)
    await store.record_invocation(record)
    return record


def item(card: str, **fields: Any) -> dict[str, Any]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": WHEN, **fields}


def stored(store: SqlAuditStore) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(feedback).order_by(feedback.c.seq)))


async def test_feedback_is_stored_and_the_same_item_twice_only_once(
    client: httpx.AsyncClient, store: SqlAuditStore, sent: InvocationRecord
) -> None:
    body = {"feedback": [item(sent.cards[0].uuid, overrideReason=OVERRIDE)]}

    first = await client.post(FEEDBACK, json=body)
    again = await client.post(FEEDBACK, json=body)

    assert (first.status_code, first.json()) == (200, {"stored": 1, "duplicates": 0, "unknownCards": 0})
    assert again.json() == {"stored": 0, "duplicates": 1, "unknownCards": 0}
    assert [row.reason_code for row in stored(store)] == ["already-done"]


async def test_epic_spelling_and_a_list_of_reasons_are_accepted(
    client: httpx.AsyncClient, store: SqlAuditStore, sent: InvocationRecord
) -> None:
    epic = item(sent.cards[0].uuid, overrideReasons=OVERRIDE)
    listed = item(
        sent.cards[0].uuid,
        outcomeTimestamp="2026-07-06T10:06:00Z",
        overrideReason=[{"userComment": "seen last week"}, OVERRIDE],
    )

    response = await client.post(FEEDBACK, json={"feedback": [epic, listed]})

    assert response.json() == {"stored": 2, "duplicates": 0, "unknownCards": 0}
    rows = stored(store)
    assert [row.reason_code for row in rows] == ["already-done", "already-done"]
    assert rows[1].user_comment == "seen last week"


async def test_accepted_feedback_keeps_the_suggestions(
    client: httpx.AsyncClient, store: SqlAuditStore, sent: InvocationRecord
) -> None:
    suggestion = sent.cards[0].suggestion_uuids[0]
    body = {
        "feedback": [
            {
                "card": sent.cards[0].uuid,
                "outcome": "accepted",
                "outcomeTimestamp": WHEN,
                "acceptedSuggestions": [{"id": suggestion}],
            }
        ]
    }
    before = REGISTRY.get_sample_value("cds_feedback_total", {"outcome": "accepted"}) or 0.0

    response = await client.post(FEEDBACK, json=body)

    assert response.status_code == 200
    assert stored(store)[0].accepted_suggestions == [suggestion]
    assert REGISTRY.get_sample_value("cds_feedback_total", {"outcome": "accepted"}) == before + 1


async def test_feedback_on_an_unknown_card_is_stored_and_flagged(
    client: httpx.AsyncClient, store: SqlAuditStore
) -> None:
    response = await client.post(FEEDBACK, json={"feedback": [item(str(uuid.uuid4()))]})

    assert response.json() == {"stored": 1, "duplicates": 0, "unknownCards": 1}
    assert stored(store)[0].unknown_card is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "feedback: Field required"),
        ({"feedback": []}, "feedback: List should have at least 1 item"),
        ({"feedback": [{"card": "c", "outcomeTimestamp": WHEN}]}, "feedback.0.outcome: Field required"),
        ({"feedback": [{"card": "c", "outcome": "ignored", "outcomeTimestamp": WHEN}]}, "feedback.0.outcome"),
        (
            {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": WHEN}]},
            "acceptedSuggestions is required when outcome is 'accepted'",
        ),
        (
            {"feedback": [item("c", outcomeTimestamp="yesterday")]},
            "feedback.0.outcomeTimestamp: must be an RFC 3339 date-time",
        ),
    ],
    ids=[
        "no-feedback",
        "empty-list",
        "no-outcome",
        "unknown-outcome",
        "accepted-without-suggestions",
        "bad-timestamp",
    ],
)
async def test_a_malformed_body_is_a_400_saying_what_is_wrong(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.post(FEEDBACK, json=body)

    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message in outcome["issue"][0]["diagnostics"]


async def test_invalid_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(FEEDBACK, content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 400


async def test_feedback_for_an_unknown_service_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/cds-services/no-such-service/feedback", json={"feedback": [item("c")]})

    assert response.status_code == 404


async def test_ready_with_a_migrated_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ready"})


@pytest.mark.parametrize("down_url", ["postgresql+psycopg://postgres@127.0.0.1:1/test", "unmigrated-sqlite"])
async def test_not_ready_and_feedback_refused_while_the_store_is_down(down_url: str, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}" if down_url == "unmigrated-sqlite" else down_url

    async with running_app(url) as http:
        ready = await http.get("/readyz")
        answered = await http.post(FEEDBACK, json={"feedback": [item("c")]})

    assert ready.status_code == 503 and ready.json()["resourceType"] == "OperationOutcome"
    assert answered.status_code == 503


async def test_ready_again_once_the_store_is_migrated(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'later.sqlite3'}"
    async with running_app(url) as http:
        before = await http.get("/readyz")
        upgrade_database(url)
        after = await http.get("/readyz")

    assert (before.status_code, after.status_code) == (503, 200)
