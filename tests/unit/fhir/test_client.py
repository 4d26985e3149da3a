"""The FHIR client's rules at the HTTP level: same server only, no redirects, paging cap,
per-request timeouts, httpx errors translated, and the token kept secret."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from cds_service.errors import PreconditionFailed
from cds_service.fhir import Deadline, FhirAccess, FhirCall, FhirClient, make_http_client
from cds_service.fhir.client import same_base
from cds_service.fhir.errors import (
    FhirError,
    FhirForeignUrl,
    FhirHttpStatus,
    FhirInvalidJson,
    FhirTimeout,
    FhirUnexpectedResource,
    FhirUnreachable,
)
from cds_service.fhir.gatherer import gather_report_sign, report_sign_requirements
from cds_service.settings import Settings
from tests.unit.fhir.fhir_data import (
    BASE,
    TEMPLATES,
    TOKEN,
    bundle,
    full_prefetch,
    hook_request,
    observation,
    patient,
    slowly,
    without,
)

pytestmark = pytest.mark.anyio


def client_for(access: FhirAccess, settings: Settings, calls: list[FhirCall] | None = None) -> FhirClient:
    return FhirClient(access, Deadline.after(settings.deadline_s), settings, [] if calls is None else calls)


# ---------------------------------------------------------------- the shared http client


async def test_shared_client_never_follows_redirects_and_asks_for_fhir_json(settings: Settings) -> None:
    async with make_http_client(settings) as http:
        assert http.follow_redirects is False
        assert http.headers["Accept"] == "application/fhir+json"


@pytest.mark.parametrize("follow_redirects", [False, True], ids=["our-client", "a-client-that-would-follow"])
async def test_redirects_are_never_followed(
    fhir: respx.MockRouter, settings: Settings, follow_redirects: bool
) -> None:
    elsewhere = fhir.get("/Patient/moved").respond(json=patient())
    fhir.get("/Patient/pat1").respond(302, headers={"Location": f"{BASE}/Patient/moved"})

    async with httpx.AsyncClient(follow_redirects=follow_redirects) as http:
        client = client_for(FhirAccess(BASE, http, TOKEN), settings)
        with pytest.raises(FhirHttpStatus, match="answered 302"):
            await client.read("Patient/pat1", "Patient")

    assert not elsewhere.called


# ---------------------------------------------------------------- one GET


async def test_read_sends_accept_and_bearer_token(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    route = fhir.get("/Patient/pat1").respond(json=patient())

    assert await client_for(access, settings).read("Patient/pat1", "Patient") == patient()
    sent = route.calls.last.request
    assert sent.headers["Accept"] == "application/fhir+json"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_absolute_url_on_the_same_server_is_read(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Patient/pat1").respond(json=patient())

    assert await client_for(access, settings).read(f"{BASE}/Patient/pat1", "Patient") == patient()


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example.net/fhir/R4/Patient/pat1",
        "http://ehr.example.org/fhir/R4/Patient/pat1",
        "https://ehr.example.org:8443/fhir/R4/Patient/pat1",
        "https://ehr.example.org/fhir/R4-other/Patient/pat1",
        "https://ehr.example.org/fhir/R4/../admin/Patient/pat1",
        "urn:uuid:0b5b7a8c-0000-4000-8000-000000000000",
    ],
    ids=["other-host", "other-scheme", "other-port", "path-prefix-lookalike", "dot-segments", "urn"],
)
async def test_urls_off_the_fhir_server_are_never_called(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings, url: str
) -> None:
    calls: list[FhirCall] = []

    with pytest.raises(FhirForeignUrl):
        await client_for(access, settings, calls).read(url, "Patient")

    assert fhir.calls.call_count == 0
    assert calls == []
    assert not same_base(url, BASE)


async def test_per_request_timeout_is_the_smaller_of_setting_and_time_left(
    fhir: respx.MockRouter, access: FhirAccess
) -> None:
    settings = Settings(fhir_timeout_ms=1000)
    route = fhir.get("/Patient/pat1").respond(json=patient())

    await FhirClient(access, Deadline.after(0.4), settings, []).read("Patient/pat1", "Patient")
    await FhirClient(access, Deadline.after(30), settings, []).read("Patient/pat1", "Patient")

    near_deadline, plenty_of_time = (call.request.extensions["timeout"]["read"] for call in route.calls)
    assert 0 < near_deadline <= 0.4
    assert plenty_of_time == 1.0


async def test_slow_server_is_a_timeout(fhir: respx.MockRouter, access: FhirAccess) -> None:
    settings = Settings(deadline_ms=5000, fhir_timeout_ms=50)
    fhir.get("/Patient/pat1").mock(side_effect=slowly(patient(), 2.0))
    calls: list[FhirCall] = []

    with pytest.raises(FhirTimeout, match="timed out"):
        await client_for(access, settings, calls).read("Patient/pat1", "Patient")

    assert [call.outcome for call in calls] == ["timeout"]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ReadTimeout("read timed out"), FhirTimeout),
        (httpx.ConnectTimeout("connect timed out"), FhirTimeout),
        (httpx.ConnectError("connection refused"), FhirUnreachable),
        (httpx.RemoteProtocolError("server disconnected"), FhirUnreachable),
    ],
    ids=["read-timeout", "connect-timeout", "connect-error", "protocol-error"],
)
async def test_httpx_errors_are_translated(
    fhir: respx.MockRouter,
    access: FhirAccess,
    settings: Settings,
    failure: Exception,
    expected: type[FhirError],
) -> None:
    fhir.get("/Patient/pat1").mock(side_effect=failure)

    with pytest.raises(expected) as raised:
        await client_for(access, settings).read("Patient/pat1", "Patient")

    assert not isinstance(raised.value, httpx.HTTPError)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json at all", FhirInvalidJson),
        (b"[1, 2, 3]", FhirInvalidJson),
        (b'{"id": "no-resource-type"}', FhirInvalidJson),
        (b'{"resourceType": "Observation", "id": "x"}', FhirUnexpectedResource),
    ],
    ids=["not-json", "json-array", "no-resourceType", "other-resourceType"],
)
async def test_bodies_that_are_not_the_resource_asked_for_are_refused(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings, body: bytes, expected: type[FhirError]
) -> None:
    fhir.get("/Patient/pat1").respond(200, content=body, headers={"Content-Type": "application/fhir+json"})

    with pytest.raises(expected):
        await client_for(access, settings).read("Patient/pat1", "Patient")


# ---------------------------------------------------------------- paging


def serve_pages(fhir: respx.MockRouter, count: int) -> None:
    """``count`` pages of one Observation each, linked by next links."""
    for page in range(1, count + 1):
        next_url = f"{BASE}/Observation?page={page + 1}" if page < count else None
        fhir.get("/Observation", params={"page": str(page)}).respond(
            json=bundle(observation(f"o{page}"), next_url=next_url)
        )


async def test_search_follows_next_links_up_to_the_cap(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    serve_pages(fhir, 3)

    found = await client_for(access, settings).search("Observation?page=1")

    assert [o["id"] for o in found.resources] == ["o1", "o2", "o3"]
    assert found.incomplete is None


async def test_search_stops_at_the_cap_and_says_so(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    serve_pages(fhir, 5)

    found = await client_for(access, settings).search("Observation?page=1")

    assert [o["id"] for o in found.resources] == ["o1", "o2", "o3"]
    assert found.incomplete == "more than 3 pages; rest not read"
    assert fhir.calls.call_count == 3


async def test_next_link_to_another_host_is_not_followed(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    other_host = respx.get("https://attacker.example.net/fhir/R4/Observation").respond(json=bundle())
    fhir.get("/Observation").respond(
        json=bundle(observation("o1"), next_url="https://attacker.example.net/fhir/R4/Observation?page=2")
    )

    found = await client_for(access, settings).search("Observation?patient=pat1")

    assert not other_host.called
    assert [o["id"] for o in found.resources] == ["o1"]
    assert found.incomplete is not None
    assert "not on the FHIR server" in found.incomplete


async def test_a_failing_later_page_keeps_the_pages_read(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Observation", params={"page": "2"}).respond(503)
    fhir.get("/Observation").respond(json=bundle(observation("o1"), next_url=f"{BASE}/Observation?page=2"))

    found = await client_for(access, settings).search("Observation?patient=pat1")

    assert [o["id"] for o in found.resources] == ["o1"]
    assert found.incomplete == "page 2: FHIR server answered 503"


# ---------------------------------------------------------------- the token stays secret


async def test_access_token_never_appears_in_logs_errors_or_reprs(
    fhir: respx.MockRouter, access: FhirAccess, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(deadline_ms=5000, fhir_timeout_ms=50)
    fhir.get("/Observation").respond(500, json={"resourceType": "OperationOutcome"})
    fhir.get("/Condition").mock(side_effect=slowly(bundle(), 1.0))
    fhir.get("/ServiceRequest").respond(200, text="not json")
    fhir.get("/Patient/pat1").respond(404)
    request = hook_request(without(full_prefetch(), "labs", "conditions", "orders", "patient"))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(PreconditionFailed) as raised:
        await gather_report_sign(
            request, report_sign_requirements(TEMPLATES), access, Deadline.after(5), settings
        )

    assert fhir.calls.call_count == 3  # the timed-out call never completed
    assert all(call.request.headers["Authorization"] == f"Bearer {TOKEN}" for call in fhir.calls)
    assert TOKEN not in caplog.text
    assert TOKEN not in str(raised.value)
    assert TOKEN not in repr(raised.value)
    assert TOKEN not in repr(access)
    assert TOKEN not in repr(client_for(access, settings))
    assert TOKEN not in repr(request)
