"""One deadline per invocation: a gathering that runs out of time raises ``DeadlineExceeded``
promptly, cancelling what is in flight, so the use case can answer no cards in time."""

from __future__ import annotations

import asyncio
import time

import pytest
import respx

from cds_service.fhir import Deadline, DeadlineExceeded, FetchResult, FhirAccess, FhirError, GatherStats
from cds_service.fhir.gatherer import gather_report_sign, report_sign_requirements
from cds_service.settings import Settings
from tests.unit.fhir.fhir_data import TEMPLATES, bundle, full_prefetch, hook_request, slowly, without

pytestmark = pytest.mark.anyio


def test_remaining_time_counts_down_and_never_goes_negative() -> None:
    deadline = Deadline.after(60)
    assert 59 < deadline.remaining() <= 60
    assert not deadline.expired

    passed = Deadline.after(-1)
    assert passed.remaining() == 0.0
    assert passed.expired
    with pytest.raises(DeadlineExceeded):
        passed.check()


def test_deadline_exceeded_is_not_a_fhir_error() -> None:
    """FHIR failure handling (gaps, 412) must never swallow the deadline."""
    assert not issubclass(DeadlineExceeded, FhirError)


async def test_enforced_cancels_the_block_when_time_is_up() -> None:
    cancelled = False

    async def slow_work() -> None:
        nonlocal cancelled
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled = True
            raise

    with pytest.raises(DeadlineExceeded):
        async with Deadline.after(0.05).enforced():
            await slow_work()
    assert cancelled


async def test_other_timeouts_inside_are_not_mistaken_for_the_deadline() -> None:
    with pytest.raises(TimeoutError):
        async with Deadline.after(10).enforced():
            raise TimeoutError("something else")


async def test_gathering_past_the_deadline_raises_in_time(fhir: respx.MockRouter, access: FhirAccess) -> None:
    settings = Settings(deadline_ms=5000, fhir_timeout_ms=10000)
    fhir.get("/Observation").mock(side_effect=slowly(bundle(), 5.0))
    stats = GatherStats()

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        await gather_report_sign(
            hook_request(without(full_prefetch(), "labs")),
            report_sign_requirements(TEMPLATES),
            access,
            Deadline.after(0.2),
            settings,
            stats,
        )
    elapsed = time.monotonic() - started

    assert elapsed < 1.0  # deadline 0.2 s; the FHIR server would take 5 s
    assert stats.prefetch["labs"].fetch is FetchResult.UNFINISHED
    assert [call.outcome for call in stats.fhir_calls] in (["deadline"], ["cancelled"])


async def test_no_request_starts_after_the_deadline(fhir: respx.MockRouter, access: FhirAccess) -> None:
    settings = Settings()

    with pytest.raises(DeadlineExceeded):
        await gather_report_sign(
            hook_request(without(full_prefetch(), "labs")),
            report_sign_requirements(TEMPLATES),
            access,
            Deadline.after(-0.01),
            settings,
        )

    assert fhir.calls.call_count == 0
