"""The governance view over HTTP: who may see it, and whether it shows what the audit store holds."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cds_service.audit.records import FeedbackRecord, InvocationRecord, OverrideReasonRecord
from cds_service.audit.sql_store import SqlAuditStore
from cds_service.audit.store import MemoryAuditStore
from cds_service.knowledge import load_artifact
from tests.integration.audit.factories import T0, make_record
from tests.integration.governance.conftest import ADMIN, ENDPOINTS, serving

pytestmark = pytest.mark.anyio

SINCE = "2026-07-01"  # before the factories' T0 (the default period is the last 12 weeks)
ANGRY = "<script>alert(1)</script> This rule fires on every phlebolith!"


async def record_a_fortnight(store: SqlAuditStore) -> list[InvocationRecord]:
    """Two cards in week 28, one in week 29, a no-finding; one override (with a comment), one accept."""
    shown = [make_record(1), make_record(2), make_record(3, received_at=T0 + timedelta(days=7))]
    for record in [*shown, make_record(4, outcome="no-finding")]:
        await store.record_invocation(record)
    reason = OverrideReasonRecord("not-relevant", "urn:calcification-cds:override", user_comment=ANGRY)
    await store.record_feedback(
        shown[0].service,
        [
            FeedbackRecord(shown[0].cards[0].uuid, "overridden", T0, reasons=(reason,)),
            FeedbackRecord(shown[1].cards[0].uuid, "accepted", T0, accepted_suggestions=("x",)),
        ],
        None,
    )
    return shown


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, ADMIN], ids=["no-token", "with-token"])
async def test_governance_does_not_exist_without_an_admin_token(
    store: SqlAuditStore, database_url: str, path: str, headers: dict[str, str]
) -> None:
    async with serving(store, database_url, admin_token=None) as client:
        response = await client.get(path, headers=headers)

    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer tt", "Bearer", "Basic t", "t"],
    ids=["missing", "wrong", "longer", "empty", "basic-scheme", "no-scheme"],
)
async def test_refused_without_the_admin_token(
    store: SqlAuditStore, database_url: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with serving(store, database_url) as client:
        response = await client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "wrong" not in response.text and "governance" not in response.text  # no detail leaks


async def test_summary_has_the_numbers_on_record(any_store: SqlAuditStore, any_database_url: str) -> None:
    await record_a_fortnight(any_store)
    async with serving(any_store, any_database_url) as client:
        response = await client.get("/governance/api/summary", params={"since": SINCE}, headers=ADMIN)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    summary = response.json()
    weeks = {(row["ruleId"], row["week"]): row for row in summary["rules"]}
    assert weeks[("CalcMetabolicWorkup", "2026-W28")] == {
        "ruleId": "CalcMetabolicWorkup",
        "week": "2026-W28",
        "firings": 3,
        "wouldFire": 0,
        "cardsShown": 2,
        "accepted": 1,
        "overridden": 1,
        "comments": 1,
        "overrideReasons": {"not-relevant": 1},
    }
    assert weeks[("CalcMetabolicWorkup", "2026-W29")]["cardsShown"] == 1
    assert weeks[("CalcFurtherImaging", "2026-W28")]["wouldFire"] == 3
    assert summary["outcomes"] == {"cards": 3, "no-finding": 1}
    assert summary["latency"] == {
        "count": 4,
        "p50Ms": 122.0,
        "p95Ms": 124.0,
        "p99Ms": 124.0,
        "targetMs": 500.0,
        "overTarget": 0,
    }
    assert [item["comment"] for item in summary["recentComments"]] == [ANGRY]
    assert summary["since"] == "2026-07-01T00:00:00.000Z"


async def test_summary_names_the_artifact_and_its_dates(store: SqlAuditStore, database_url: str) -> None:
    artifact = load_artifact()
    async with serving(store, database_url) as client:
        summary = (await client.get("/governance/api/summary", headers=ADMIN)).json()

    assert summary["artifact"] | {"rules": None} == summary["artifact"] | {
        "id": artifact.id,
        "version": artifact.version,
        "contentHash": artifact.content_hash,
        "approvalDate": artifact.approval_date.isoformat(),
        "lastReviewDate": artifact.last_review_date.isoformat(),
        "expiryDate": artifact.expiry_date.isoformat(),
        "rules": None,
    }
    assert {rule["ruleId"]: rule["status"] for rule in summary["artifact"]["rules"]} == {
        rule_id: rule.status for rule_id, rule in artifact.rules.items()
    }
    assert summary["rules"] == [] and summary["outcomes"] == {}  # July is outside the last 12 weeks


async def test_page_shows_the_rules_and_escapes_clinicians_comments(
    any_store: SqlAuditStore, any_database_url: str
) -> None:
    await record_a_fortnight(any_store)
    async with serving(any_store, any_database_url) as client:
        response = await client.get("/governance", params={"since": SINCE}, headers=ADMIN)

    page = response.text
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; This rule fires on every phlebolith!" in page
    assert "2026-W28" in page and "2026-W29" in page and "CalcMetabolicWorkup" in page
    assert "<svg" in page and "target 500 ms" in page
    assert '<div class="tile"><b>3</b><span>Cards shown</span></div>' in page


async def test_page_warns_when_the_artifact_is_past_review_and_expiry(
    store: SqlAuditStore, database_url: str
) -> None:
    stale = load_artifact().model_copy(
        update={"last_review_date": date(2024, 1, 1), "expiry_date": date(2025, 1, 1)}
    )
    async with serving(store, database_url, artifact=stale) as client:
        page = (await client.get("/governance", headers=ADMIN)).text

    assert "Warning: Knowledge artifact 1.0.0 expired on 2025-01-01." in page
    assert "Warning: Review overdue: last reviewed 2024-01-01, due 2024-12-31." in page
    assert ">EXPIRED<" in page and ">REVIEW OVERDUE<" in page


async def test_a_malformed_since_is_a_400(store: SqlAuditStore, database_url: str) -> None:
    async with serving(store, database_url) as client:
        response = await client.get("/governance/api/summary", params={"since": "last week"}, headers=ADMIN)

    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["since"]


class CountlessStore(MemoryAuditStore):
    """A store that records but keeps no governance numbers."""

    def __getattribute__(self, name: str) -> Any:
        if name == "governance_summary":
            raise AttributeError(name)
        return super().__getattribute__(name)


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_store_that_keeps_no_governance_numbers_is_a_503(database_url: str, path: str) -> None:
    async with serving(CountlessStore(), database_url) as client:
        response = await client.get(path, headers=ADMIN)

    assert response.status_code == 503


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_an_unreachable_database_is_a_503(tmp_path: Path, path: str) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'a.sqlite3'}"
    store = SqlAuditStore.from_url(url)
    try:
        async with serving(store, url) as client:
            response = await client.get(path, headers=ADMIN)
    finally:
        await store.close()

    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"
