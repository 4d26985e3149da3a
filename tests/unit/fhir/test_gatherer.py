"""The gatherer against a FHIR server mocked at the HTTP level: the prefetch matrix of
checklist §3.4, required vs optional data, and the report's dependents."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import pytest
import respx

from cds_service.cdshooks.prefetch import PrefetchStatus
from cds_service.errors import PreconditionFailed
from cds_service.fhir import (
    DataRequirement,
    Deadline,
    FetchResult,
    FhirAccess,
    FhirClient,
    Gathered,
    GatherStats,
    gather_report_sign,
    gather_requirements,
    report_sign_requirements,
)
from cds_service.settings import Settings
from tests.unit.fhir.fhir_data import (
    BASE,
    TEMPLATES,
    TOKEN,
    bundle,
    condition,
    full_prefetch,
    hook_request,
    observation,
    outcome,
    patient,
    report,
    service_request,
    slowly,
    without,
)

pytestmark = pytest.mark.anyio

REQUIREMENTS = report_sign_requirements(TEMPLATES)


async def gather(
    prefetch: dict[str, Any] | None, access: FhirAccess | None, settings: Settings, *, token: bool = True
) -> Gathered:
    request = hook_request(prefetch, token=token)
    return await gather_report_sign(
        request, REQUIREMENTS, access, Deadline.after(settings.deadline_s), settings
    )


def serve_searches(fhir: respx.MockRouter) -> None:
    fhir.get("/Observation").respond(json=bundle(observation("ca1")))
    fhir.get("/Condition").respond(json=bundle(condition("c1")))
    fhir.get("/ServiceRequest").respond(json=bundle(service_request("sr1")))


def gap_reasons(gathered: Gathered) -> dict[str, str]:
    return {gap.what: gap.reason for gap in gathered.data.gaps}


# ---------------------------------------------------------------- §3.4 prefetch matrix


async def test_all_keys_prefetched_needs_no_fhir_call(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    gathered = await gather(full_prefetch(), access, settings)

    assert fhir.calls.call_count == 0
    assert gathered.data.report["id"] == "rep1"
    assert gathered.data.patient == patient()
    assert [o["id"] for o in gathered.data.observations] == ["ca1"]
    assert [c["id"] for c in gathered.data.conditions] == ["c1"]
    assert gathered.data.service_requests == ()
    assert gathered.data.gaps == ()
    assert {key: stat.prefetch for key, stat in gathered.stats.prefetch.items()} == dict.fromkeys(
        TEMPLATES, PrefetchStatus.PRESENT
    )
    assert {stat.fetch for stat in gathered.stats.prefetch.values()} == {FetchResult.NOT_NEEDED}


async def test_null_key_is_authoritative_no_data_and_never_requeried(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    labs = fhir.get("/Observation").respond(json=bundle(observation("should-not-be-read")))

    gathered = await gather({**full_prefetch(), "labs": None}, access, settings)

    assert not labs.called
    assert gathered.data.observations == ()
    assert gathered.data.gaps == ()
    assert gathered.stats.prefetch["labs"].prefetch is PrefetchStatus.NULL


async def test_null_required_key_is_412(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    with pytest.raises(PreconditionFailed, match=r"report.*null"):
        await gather({**full_prefetch(), "report": None}, access, settings)
    assert fhir.calls.call_count == 0


async def test_missing_keys_are_fetched_with_the_same_rendered_template_and_the_token(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    serve_searches(fhir)

    gathered = await gather(without(full_prefetch(), "labs", "conditions", "orders"), access, settings)

    labs_request = fhir.routes[0].calls.last.request
    assert labs_request.url.path == "/fhir/R4/Observation"
    assert labs_request.url.query.decode() == "patient=pat1&code=http://loinc.org|17861-6&_sort=-date"
    assert labs_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert labs_request.headers["Accept"] == "application/fhir+json"
    assert [o["id"] for o in gathered.data.observations] == ["ca1"]
    assert [s["id"] for s in gathered.data.service_requests] == ["sr1"]
    assert gathered.data.gaps == ()
    assert gathered.stats.prefetch["labs"].prefetch is PrefetchStatus.MISSING
    assert gathered.stats.prefetch["labs"].fetch is FetchResult.OK
    assert [call.outcome for call in gathered.stats.fhir_calls] == ["ok", "ok", "ok"]


async def test_no_prefetch_at_all_fetches_everything(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Patient/pat1").respond(json=patient())
    fhir.get("/DiagnosticReport/rep1").respond(json=report())
    serve_searches(fhir)

    gathered = await gather(None, access, settings)

    assert gathered.data.report["id"] == "rep1"
    assert gathered.data.patient == patient()
    assert fhir.calls.call_count == 5


async def test_open_server_is_queried_without_an_authorization_header(
    fhir: respx.MockRouter, open_access: FhirAccess, settings: Settings
) -> None:
    serve_searches(fhir)

    await gather(without(full_prefetch(), "labs", "conditions", "orders"), open_access, settings, token=False)

    assert all("Authorization" not in call.request.headers for call in fhir.calls)


async def test_missing_optional_keys_without_fhir_access_are_gaps(
    fhir: respx.MockRouter, settings: Settings
) -> None:
    gathered = await gather(without(full_prefetch(), "labs", "orders"), None, settings, token=False)

    assert gap_reasons(gathered) == {
        "labs": "no prefetch and no FHIR access",
        "orders": "no prefetch and no FHIR access",
    }
    assert gathered.stats.prefetch["labs"].fetch is FetchResult.NO_ACCESS
    assert fhir.calls.call_count == 0


async def test_missing_required_key_without_fhir_access_is_412(
    fhir: respx.MockRouter, settings: Settings
) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        await gather(without(full_prefetch(), "report"), None, settings, token=False)

    assert raised.value.status_code == 412
    assert raised.value.expression == "prefetch.report"
    assert "report" in raised.value.message
    assert "no prefetch and no FHIR access" in raised.value.message


async def test_operation_outcome_prefetch_is_fetched_again(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    labs = fhir.get("/Observation").respond(json=bundle(observation("ca1")))

    gathered = await gather({**full_prefetch(), "labs": outcome()}, access, settings)

    assert labs.called
    assert [o["id"] for o in gathered.data.observations] == ["ca1"]
    assert gathered.stats.prefetch["labs"].prefetch is PrefetchStatus.ERROR
    assert gathered.stats.prefetch["labs"].fetch is FetchResult.OK


async def test_operation_outcome_prefetch_without_fhir_access_is_a_gap(settings: Settings) -> None:
    gathered = await gather({**full_prefetch(), "labs": outcome()}, None, settings, token=False)

    assert gap_reasons(gathered) == {"labs": "prefetch returned an OperationOutcome and no FHIR access"}


async def test_operation_outcome_for_required_key_without_access_is_412(settings: Settings) -> None:
    with pytest.raises(PreconditionFailed, match="OperationOutcome"):
        await gather({**full_prefetch(), "patient": outcome()}, None, settings, token=False)


async def test_bundle_holding_an_error_outcome_is_fetched_again(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    labs = fhir.get("/Observation").respond(json=bundle(observation("ca1")))

    await gather({**full_prefetch(), "labs": bundle(outcome("error"))}, access, settings)

    assert labs.called


async def test_search_outcome_warnings_are_skipped_not_treated_as_data(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    with_warning = bundle(observation("ca1"))
    with_warning["entry"].append({"resource": outcome("warning"), "search": {"mode": "outcome"}})

    gathered = await gather({**full_prefetch(), "labs": with_warning}, access, settings)

    assert fhir.calls.call_count == 0
    assert [o["resourceType"] for o in gathered.data.observations] == ["Observation"]


async def test_prefetched_resource_of_the_wrong_type_is_fetched_again(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/DiagnosticReport/rep1").respond(json=report())

    gathered = await gather({**full_prefetch(), "report": patient()}, access, settings)

    assert gathered.data.report["resourceType"] == "DiagnosticReport"
    assert gathered.stats.prefetch["report"].prefetch is PrefetchStatus.ERROR


# ---------------------------------------------------------------- FHIR failures: optional vs required


@pytest.mark.parametrize("status", [404, 500], ids=["not-found", "server-error"])
async def test_optional_key_failing_on_the_server_is_a_gap(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings, status: int
) -> None:
    fhir.get("/Observation").respond(status, json=outcome())

    gathered = await gather(without(full_prefetch(), "labs"), access, settings)

    assert gap_reasons(gathered) == {"labs": f"FHIR server answered {status}"}
    assert gathered.stats.prefetch["labs"].fetch is FetchResult.FAILED
    assert [call.outcome for call in gathered.stats.fhir_calls] == [f"http-{status // 100}xx"]


@pytest.mark.parametrize("status", [404, 500], ids=["not-found", "server-error"])
async def test_required_key_failing_on_the_server_is_412(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings, status: int
) -> None:
    fhir.get("/DiagnosticReport/rep1").respond(status, json=outcome())

    with pytest.raises(PreconditionFailed, match=rf"report.*FHIR server answered {status}"):
        await gather(without(full_prefetch(), "report"), access, settings)


async def test_invalid_json_from_the_server_is_a_gap_for_optional_data(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Condition").respond(200, text="<html>login</html>", headers={"Content-Type": "text/html"})

    gathered = await gather(without(full_prefetch(), "conditions"), access, settings)

    assert "not a JSON FHIR resource" in gap_reasons(gathered)["conditions"]
    assert gathered.stats.fhir_calls[0].outcome == "invalid-json"


async def test_unexpected_resource_type_from_the_server_is_412_for_the_report(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/DiagnosticReport/rep1").respond(json=outcome())

    with pytest.raises(PreconditionFailed, match="OperationOutcome where DiagnosticReport was expected"):
        await gather(without(full_prefetch(), "report"), access, settings)


async def test_per_request_timeout_makes_optional_data_a_gap(
    fhir: respx.MockRouter, access: FhirAccess
) -> None:
    settings = Settings(deadline_ms=5000, fhir_timeout_ms=100)
    fhir.get("/Observation").mock(side_effect=slowly(bundle(), 2.0))

    gathered = await gather(without(full_prefetch(), "labs"), access, settings)

    assert gap_reasons(gathered) == {"labs": "FHIR server timed out"}
    assert gathered.stats.fhir_calls[0].outcome == "timeout"


async def test_required_data_timing_out_is_412_saying_so(fhir: respx.MockRouter, access: FhirAccess) -> None:
    settings = Settings(deadline_ms=5000, fhir_timeout_ms=100)
    fhir.get("/Patient/pat1").mock(side_effect=httpx.ReadTimeout("read timed out"))

    with pytest.raises(PreconditionFailed, match=r"patient.*timed out"):
        await gather(without(full_prefetch(), "patient"), access, settings)


async def test_unusable_template_is_a_gap_not_a_query(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    team = DataRequirement(
        "team", "PractitionerRole/{{userPractitionerRoleId}}", "PractitionerRole", False, "team"
    )
    client = FhirClient(access, Deadline.after(1), settings, [])

    found = await gather_requirements(hook_request({}), [team], client, GatherStats())

    assert found["team"].gap is not None
    assert "template needs context the request lacks" in found["team"].gap.reason
    assert fhir.calls.call_count == 0


# ---------------------------------------------------------------- paging through the gatherer


async def test_search_beyond_the_page_cap_is_truncated_with_a_gap(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    for page in range(1, 5):
        fhir.get("/Observation", params={"page": str(page)}).respond(
            json=bundle(observation(f"ca{page}"), next_url=f"{BASE}/Observation?page={page + 1}")
        )
    first = bundle(observation("ca0"), next_url=f"{BASE}/Observation?page=1")
    fhir.get("/Observation", params={"patient": "pat1"}).respond(json=first)

    gathered = await gather(without(full_prefetch(), "labs"), access, settings)

    assert [o["id"] for o in gathered.data.observations] == ["ca0", "ca1", "ca2"]
    assert gap_reasons(gathered) == {"labs": "more than 3 pages; rest not read"}


async def test_prefetched_bundle_next_pages_are_followed_with_fhir_access(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Observation", params={"page": "2"}).respond(json=bundle(observation("ca2")))
    prefetched = bundle(observation("ca1"), next_url=f"{BASE}/Observation?page=2")

    gathered = await gather({**full_prefetch(), "labs": prefetched}, access, settings)

    assert [o["id"] for o in gathered.data.observations] == ["ca1", "ca2"]
    assert gathered.data.gaps == ()


async def test_prefetched_bundle_with_more_pages_and_no_access_keeps_page_one_with_a_gap(
    settings: Settings,
) -> None:
    prefetched = bundle(observation("ca1"), next_url=f"{BASE}/Observation?page=2")

    gathered = await gather({**full_prefetch(), "labs": prefetched}, None, settings, token=False)

    assert [o["id"] for o in gathered.data.observations] == ["ca1"]
    assert gap_reasons(gathered) == {"labs": "prefetch has more pages and there is no FHIR access"}


# ---------------------------------------------------------------- the report's dependents


async def test_report_results_and_binary_attachment_are_fetched(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Observation/r1").respond(json=observation("r1"))
    fhir.get("/Observation/r2").respond(json=observation("r2"))
    text = "Vascular calcification of the superficial femoral artery."
    binary = {
        "resourceType": "Binary",
        "contentType": "text/plain",
        "data": base64.b64encode(text.encode()).decode(),
    }
    fhir.get("/Binary/b1").respond(json=binary, headers={"Content-Type": "application/fhir+json"})
    the_report = report(results=("Observation/r1", f"{BASE}/Observation/r2"), form_urls=("Binary/b1",))

    gathered = await gather({**full_prefetch(), "report": the_report}, access, settings)

    assert [o["id"] for o in gathered.data.report_results] == ["r1", "r2"]
    attachment = gathered.data.attachments["Binary/b1"]
    assert (attachment.content_type, attachment.data) == ("text/plain", text.encode())
    assert gathered.data.gaps == ()


async def test_raw_text_attachment_is_kept_with_its_content_type(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Binary/b2").respond(
        text="IMPRESSION: no calcification.", headers={"Content-Type": "text/plain"}
    )
    url = f"{BASE}/Binary/b2"

    gathered = await gather({**full_prefetch(), "report": report(form_urls=(url,))}, access, settings)

    attachment = gathered.data.attachments[url]
    assert attachment.content_type.startswith("text/plain")
    assert attachment.data == b"IMPRESSION: no calcification."


async def test_inline_presented_form_is_not_fetched(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    inline = report(presentedForm=[{"contentType": "text/plain", "url": "Binary/b1", "data": "SGk="}])

    gathered = await gather({**full_prefetch(), "report": inline}, access, settings)

    assert fhir.calls.call_count == 0
    assert gathered.data.attachments == {}


async def test_unreadable_results_and_attachments_are_gaps(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    fhir.get("/Observation/r1").respond(json=observation("r1"))
    fhir.get("/Observation/r2").respond(404, json=outcome())
    elsewhere = "https://files.example.com/Binary/b1"
    the_report = report(results=("Observation/r1", "Observation/r2"), form_urls=(elsewhere,))

    gathered = await gather({**full_prefetch(), "report": the_report}, access, settings)

    assert [o["id"] for o in gathered.data.report_results] == ["r1"]
    reasons = gap_reasons(gathered)
    assert reasons["report results"] == "1 of 2 not available: FHIR server answered 404"
    assert "not on the FHIR server" in reasons[f"presentedForm {elsewhere}"]


async def test_results_in_hand_are_not_fetched(
    fhir: respx.MockRouter, access: FhirAccess, settings: Settings
) -> None:
    the_report = report(results=("#inline", "Observation/ca1"), contained=[observation("inline")])

    gathered = await gather({**full_prefetch(), "report": the_report}, access, settings)

    assert fhir.calls.call_count == 0
    assert [o["id"] for o in gathered.data.report_results] == ["inline", "ca1"]


async def test_dependents_without_fhir_access_are_gaps(settings: Settings) -> None:
    the_report = report(results=("Observation/r1",), form_urls=("Binary/b1",))

    gathered = await gather({**full_prefetch(), "report": the_report}, None, settings, token=False)

    assert gap_reasons(gathered) == {
        "report results": "1 of 1 not available: no FHIR access",
        "presentedForm Binary/b1": "no FHIR access",
    }


# ---------------------------------------------------------------- concurrency


class SlowServer:
    """Answers every route after 200 ms and remembers how many requests were in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0

    def answering(self, body: dict[str, Any]) -> Any:
        async def respond(request: httpx.Request) -> httpx.Response:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await asyncio.sleep(0.2)
            self.in_flight -= 1
            return httpx.Response(200, json=body)

        return respond


def serve_slowly(fhir: respx.MockRouter, server: SlowServer) -> None:
    fhir.get("/Patient/pat1").mock(side_effect=server.answering(patient()))
    fhir.get("/DiagnosticReport/rep1").mock(side_effect=server.answering(DEPENDENT_REPORT))
    fhir.get("/Observation/r1").mock(side_effect=server.answering(observation("r1")))
    fhir.get("/Observation/r2").mock(side_effect=server.answering(observation("r2")))
    fhir.get("/Observation").mock(side_effect=server.answering(bundle(observation("ca1"))))
    fhir.get("/Condition").mock(side_effect=server.answering(bundle()))
    fhir.get("/ServiceRequest").mock(side_effect=server.answering(bundle()))
    binary = {"resourceType": "Binary", "contentType": "text/plain", "data": "SGk="}
    fhir.get("/Binary/b1").mock(side_effect=server.answering(binary))


DEPENDENT_REPORT = report(results=("Observation/r1", "Observation/r2"), form_urls=("Binary/b1",))


async def test_all_five_keys_then_all_dependents_are_fetched_at_once(
    fhir: respx.MockRouter, access: FhirAccess
) -> None:
    server = SlowServer()
    serve_slowly(fhir, server)

    gathered = await gather(None, access, Settings(deadline_ms=5000, fhir_timeout_ms=2000))

    assert fhir.calls.call_count == 8
    assert server.peak >= 5  # the five keys at once (the dependents may overlap their ends)
    assert len(gathered.data.report_results) == 2
    assert "Binary/b1" in gathered.data.attachments


async def test_independent_queries_run_concurrently(fhir: respx.MockRouter, access: FhirAccess) -> None:
    """Seven 200 ms calls (four keys, two results, one Binary) take about one call's time,
    because a prefetched report's dependents need not wait for the other keys."""
    server = SlowServer()
    serve_slowly(fhir, server)

    started = time.monotonic()
    gathered = await gather(
        {"report": DEPENDENT_REPORT}, access, Settings(deadline_ms=5000, fhir_timeout_ms=2000)
    )
    elapsed = time.monotonic() - started

    assert fhir.calls.call_count == 7
    assert server.peak == 7
    assert len(gathered.data.report_results) == 2
    assert elapsed < 0.5
