"""Filling a ``PatientData`` snapshot: prefetch first, the FHIR server for the rest.

Two waves, each fully concurrent, both inside the invocation deadline:

1. ``gather_requirements`` — generic: every data requirement (a prefetch key and its template).
   PRESENT keys are used as sent (a prefetched Bundle's next pages are followed when we may query
   the server), NULL keys are "no data", MISSING and ERROR keys are fetched with the same rendered
   template, so self-fetched data equals prefetched data.
2. ``gather_report_dependents`` — what a DiagnosticReport points at: its ``result`` Observations
   and the ``presentedForm`` attachments that are a URL rather than inline data.

Required data that cannot be had is a ``PreconditionFailed`` (412) naming the key and why;
optional data that cannot be had becomes a ``DataGap`` and the evaluation goes on without it.
``gather_report_sign`` composes both waves for the report-sign use case; a patient-view use case
reuses them with a reports search instead of a report read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from cds_service.cdshooks.models import HookRequest
from cds_service.cdshooks.prefetch import PrefetchStatus, PrefetchValue, classify_prefetch, render_template
from cds_service.clinical.patient_data import DataGap, FetchedAttachment, PatientData
from cds_service.errors import PreconditionFailed
from cds_service.fhir.bundle import entry_resources, next_link
from cds_service.fhir.client import FhirAccess, FhirCall, FhirClient
from cds_service.fhir.deadline import Deadline, DeadlineExceeded
from cds_service.fhir.errors import FhirError
from cds_service.settings import Settings

__all__ = [
    "REPORT_SIGN_NEEDS",
    "DataRequirement",
    "FetchResult",
    "GatherStats",
    "Gathered",
    "KeyData",
    "KeyStats",
    "ReportDependents",
    "gather_report_dependents",
    "gather_report_sign",
    "gather_requirements",
    "report_sign_requirements",
]

log = logging.getLogger("cds_service.fhir")

Resource = Mapping[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class DataRequirement:
    """One piece of data a service needs, as its discovery ``prefetch`` template declares it."""

    key: str  # the prefetch key
    template: str  # relative read or search URL with {{…}} tokens
    resource_type: str  # the read's resource type, or "Bundle" for a search
    required: bool  # required data that cannot be had → 412
    name: str  # what a clinician calls it, used in gaps and 412 messages: "labs"


class FetchResult(StrEnum):
    NOT_NEEDED = "not-needed"  # prefetch was present or null
    OK = "ok"
    FAILED = "failed"
    NO_ACCESS = "no-access"  # needed, but the service may not query the FHIR server
    UNFINISHED = "unfinished"  # still in flight when the deadline passed


@dataclass(frozen=True)
class KeyStats:
    prefetch: PrefetchStatus
    fetch: FetchResult


@dataclass
class GatherStats:
    """What metrics and audit read about one gathering; filled as it goes, so a caller holding
    it still has the figures when the gathering ends in a 412 or a deadline."""

    prefetch: dict[str, KeyStats] = field(default_factory=dict)
    fhir_calls: list[FhirCall] = field(default_factory=list)


@dataclass(frozen=True)
class KeyData:
    """What one requirement yielded: its resources (a read gives at most one) and any gap."""

    resources: tuple[Resource, ...] = ()
    gap: DataGap | None = None


@dataclass(frozen=True)
class ReportDependents:
    results: tuple[Resource, ...] = ()
    attachments: Mapping[str, FetchedAttachment] = field(default_factory=dict)
    gaps: tuple[DataGap, ...] = ()


@dataclass(frozen=True)
class Gathered:
    data: PatientData
    stats: GatherStats


# ---------------------------------------------------------------- report-sign

# key → (resource type, required, name): the data report-sign evaluates.
REPORT_SIGN_NEEDS: Mapping[str, tuple[str, bool, str]] = {
    "patient": ("Patient", True, "patient"),
    "report": ("DiagnosticReport", True, "report"),
    "labs": ("Bundle", False, "labs"),
    "conditions": ("Bundle", False, "conditions"),
    "orders": ("Bundle", False, "orders"),
}


def requirements_from(
    needs: Mapping[str, tuple[str, bool, str]], templates: Mapping[str, str]
) -> list[DataRequirement]:
    """A service's requirements: what it needs (key → type, required, name) × its templates."""
    return [
        DataRequirement(key, templates[key], resource_type, required, name)
        for key, (resource_type, required, name) in needs.items()
        if key in templates
    ]


def report_sign_requirements(templates: Mapping[str, str]) -> list[DataRequirement]:
    """The requirements of report-sign from its discovery prefetch templates (key → template)."""
    return requirements_from(REPORT_SIGN_NEEDS, templates)


async def gather_report_sign(
    request: HookRequest,
    requirements: Sequence[DataRequirement],
    access: FhirAccess | None,
    deadline: Deadline,
    settings: Settings,
    stats: GatherStats | None = None,
) -> Gathered:
    """Everything report-sign evaluates; raises ``PreconditionFailed`` or ``DeadlineExceeded``.

    The report's dependents are fetched as soon as the report is in hand, while the other keys
    are still in flight: a prefetched report costs one round trip less.
    """
    required = {requirement.key for requirement in requirements if requirement.required}
    if not {"patient", "report"} <= required:
        raise ValueError("report-sign needs 'patient' and 'report' as required requirements")
    stats = GatherStats() if stats is None else stats
    client = None if access is None else FhirClient(access, deadline, settings, stats.fhir_calls)
    report_requirement = next(r for r in requirements if r.key == "report")
    others = [r for r in requirements if r.key != "report"]
    async with deadline.enforced():
        with _first_failure():
            async with asyncio.TaskGroup() as group:
                report_side = group.create_task(
                    _report_with_dependents(request, report_requirement, client, stats)
                )
                rest = group.create_task(gather_requirements(request, others, client, stats))
    report, dependents = report_side.result()
    found = {**rest.result(), "report": report}
    return Gathered(data=_patient_data(found, dependents, requirements), stats=stats)


async def _report_with_dependents(
    request: HookRequest, requirement: DataRequirement, client: FhirClient | None, stats: GatherStats
) -> tuple[KeyData, ReportDependents]:
    report = (await gather_requirements(request, [requirement], client, stats))[requirement.key]
    resource = report.resources[0]
    # Most reports carry no result references: then the prefetched labs need no second look.
    known = _prefetched_observations(request) if resource.get("result") else ()
    return report, await gather_report_dependents(resource, client, known)


def _prefetched_observations(request: HookRequest) -> list[Resource]:
    prefetched_labs = classify_prefetch(request.prefetch, "labs", "Bundle").resource
    return entry_resources(prefetched_labs) if prefetched_labs is not None else []


def _patient_data(
    found: Mapping[str, KeyData], dependents: ReportDependents, requirements: Sequence[DataRequirement]
) -> PatientData:
    return PatientData(
        report=found["report"].resources[0],
        patient=found["patient"].resources[0],
        observations=_resources(found, "labs"),
        conditions=_resources(found, "conditions"),
        service_requests=_resources(found, "orders"),
        report_results=dependents.results,
        attachments=dependents.attachments,
        gaps=(*_gaps(found, requirements), *dependents.gaps),
    )


def _resources(found: Mapping[str, KeyData], key: str) -> tuple[Resource, ...]:
    return found[key].resources if key in found else ()


def _gaps(found: Mapping[str, KeyData], requirements: Sequence[DataRequirement]) -> list[DataGap]:
    gaps = (found[requirement.key].gap for requirement in requirements)
    return [gap for gap in gaps if gap is not None]


# ---------------------------------------------------------------- wave 1: the requirements


async def gather_requirements(
    request: HookRequest,
    requirements: Sequence[DataRequirement],
    client: FhirClient | None,
    stats: GatherStats,
) -> dict[str, KeyData]:
    """Every requirement, concurrently; ``PreconditionFailed`` when required data is missing.

    ``client`` is None when the service may not query the FHIR server (decision 1). Run it
    inside ``Deadline.enforced()``: it never waits on the deadline itself.
    """
    sent = {r.key: classify_prefetch(request.prefetch, r.key, r.resource_type) for r in requirements}
    for key, value in sent.items():
        stats.prefetch[key] = KeyStats(value.status, _initial_fetch_result(value))
    found = {r.key: data for r in requirements if (data := _in_hand(r, sent[r.key])) is not None}
    waiting = [r for r in requirements if r.key not in found]  # only these need the FHIR server
    results = await _concurrently(*(_obtain(request, r, sent[r.key], client, stats) for r in waiting))
    found.update({requirement.key: result for requirement, result in zip(waiting, results, strict=True)})
    for requirement in requirements:
        _insist_on(requirement, found[requirement.key])
    return found


def _initial_fetch_result(value: PrefetchValue) -> FetchResult:
    return FetchResult.UNFINISHED if value.needs_fetch else FetchResult.NOT_NEEDED


def _insist_on(requirement: DataRequirement, data: KeyData) -> None:
    """Required data must be there; say which key is missing and why (checklist §3.4, 412)."""
    if not requirement.required or data.resources:
        return
    reason = data.gap.reason if data.gap else "prefetch says there is no such data (null)"
    raise PreconditionFailed(
        f"required {requirement.name} (prefetch key '{requirement.key}') cannot be had: {reason}",
        expression=f"prefetch.{requirement.key}",
    )


def _in_hand(requirement: DataRequirement, sent: PrefetchValue) -> KeyData | None:
    """The data when prefetch settled it without a call (no task is started for these); None
    when the FHIR server must be asked (a missing or failed key, a Bundle with more pages)."""
    if sent.status is PrefetchStatus.NULL:
        return KeyData()
    if sent.resource is None:
        return None
    if requirement.resource_type != "Bundle":
        return KeyData((sent.resource,))
    return KeyData(tuple(entry_resources(sent.resource))) if next_link(sent.resource) is None else None


async def _obtain(
    request: HookRequest,
    requirement: DataRequirement,
    sent: PrefetchValue,
    client: FhirClient | None,
    stats: GatherStats,
) -> KeyData:
    if sent.resource is not None:  # a prefetched Bundle with more pages
        return await _with_remaining_pages(requirement, sent.resource, client)
    result, data = await _fetch(request, requirement, sent, client)
    stats.prefetch[requirement.key] = KeyStats(sent.status, result)
    if data.gap is not None:
        log.info("%s (prefetch key %s) not available: %s", requirement.name, requirement.key, data.gap.reason)
    return data


async def _with_remaining_pages(
    requirement: DataRequirement, resource: Resource, client: FhirClient | None
) -> KeyData:
    """A prefetched Bundle with its next pages when we may fetch them."""
    if client is None:
        gap = _gap(requirement, "prefetch has more pages and there is no FHIR access")
        return KeyData(tuple(entry_resources(resource)), gap)
    found = await client.remaining_pages(resource)
    return KeyData(found.resources, _gap(requirement, found.incomplete) if found.incomplete else None)


async def _fetch(
    request: HookRequest, requirement: DataRequirement, sent: PrefetchValue, client: FhirClient | None
) -> tuple[FetchResult, KeyData]:
    """Fetch a MISSING or ERROR key with the very template the client would have rendered."""
    why_needed = sent.problem or "no prefetch"
    if client is None:
        return FetchResult.NO_ACCESS, KeyData(gap=_gap(requirement, f"{why_needed} and no FHIR access"))
    query = render_template(requirement.template, request.context)
    if query is None:
        reason = f"{why_needed} and its template needs context the request lacks"
        return FetchResult.FAILED, KeyData(gap=_gap(requirement, reason))
    try:
        if requirement.resource_type == "Bundle":
            found = await client.search(query)
            gap = _gap(requirement, found.incomplete) if found.incomplete else None
            return FetchResult.OK, KeyData(found.resources, gap)
        return FetchResult.OK, KeyData((await client.read(query, requirement.resource_type),))
    except FhirError as error:
        return FetchResult.FAILED, KeyData(gap=_gap(requirement, error.message))


def _gap(requirement: DataRequirement, reason: str) -> DataGap:
    return DataGap(what=requirement.name, reason=reason)


# ---------------------------------------------------------------- wave 2: what a report points at

RESULTS = "report results"


async def gather_report_dependents(
    report: Resource, client: FhirClient | None, known_observations: Iterable[Resource] = ()
) -> ReportDependents:
    """The report's result Observations and URL-only attachments, all concurrently.

    Results already in hand (contained in the report, or among the labs gathered) are not
    fetched again. Run it inside ``Deadline.enforced()``.
    """
    results_step = _report_results(report, client, known_observations)
    if not _url_only_forms(report):  # the usual report carries its text: no second task to run
        return await results_step
    results, attachments = await _concurrently(results_step, _report_attachments(report, client))
    return ReportDependents(results.results, attachments.attachments, (*results.gaps, *attachments.gaps))


async def _report_results(
    report: Resource, client: FhirClient | None, known_observations: Iterable[Resource]
) -> ReportDependents:
    references = [_reference(item) for item in report.get("result") or ()]
    if not references:
        return ReportDependents()
    in_hand = _observations_in_hand(report, known_observations)
    outcomes = await _concurrently(*(_report_result(ref, in_hand, client) for ref in references))
    results = tuple(outcome for outcome in outcomes if not isinstance(outcome, str))
    problems = sorted({outcome for outcome in outcomes if isinstance(outcome, str)})
    if not problems:
        return ReportDependents(results=results)
    missing = len(outcomes) - len(results)
    reason = f"{missing} of {len(outcomes)} not available: {'; '.join(problems)}"
    return ReportDependents(results=results, gaps=(DataGap(RESULTS, reason),))


def _reference(item: object) -> str | None:
    reference = item.get("reference") if isinstance(item, Mapping) else None
    return reference if isinstance(reference, str) and reference else None


def _observations_in_hand(report: Resource, known: Iterable[Resource]) -> dict[str, Resource]:
    """Observations we already hold, by the references a report may use for them."""
    in_hand: dict[str, Resource] = {}
    for observation in known:
        if observation.get("resourceType") == "Observation" and observation.get("id"):
            in_hand[f"Observation/{observation['id']}"] = observation
    for contained in report.get("contained") or ():
        if isinstance(contained, Mapping) and contained.get("id"):
            in_hand[f"#{contained['id']}"] = contained
    return in_hand


def _local_reference(reference: str) -> str:
    """``Observation/1`` for ``https://…/Observation/1/_history/2`` and the like."""
    path = reference.split("/_history/")[0]
    return "/".join(path.split("/")[-2:]) if not reference.startswith("#") else reference


async def _report_result(
    reference: str | None, in_hand: Mapping[str, Resource], client: FhirClient | None
) -> Resource | str:
    """The Observation, or why it cannot be had."""
    if reference is None:
        return "a result has no reference"
    known = in_hand.get(_local_reference(reference))
    if known is not None:
        return known
    if reference.startswith("#"):
        return "a contained result is missing from the report"
    if client is None:
        return "no FHIR access"
    try:
        return await client.read(reference, "Observation")
    except FhirError as error:
        return error.message


async def _report_attachments(report: Resource, client: FhirClient | None) -> ReportDependents:
    urls = list(dict.fromkeys(_url_only_forms(report)))
    outcomes = await _concurrently(*(_attachment(url, client) for url in urls))
    attachments = {url: got for url, got in zip(urls, outcomes, strict=True) if not isinstance(got, str)}
    gaps = tuple(
        DataGap(f"presentedForm {url}", got)
        for url, got in zip(urls, outcomes, strict=True)
        if isinstance(got, str)
    )
    return ReportDependents(attachments=attachments, gaps=gaps)


def _url_only_forms(report: Resource) -> list[str]:
    """presentedForm entries that point at their content instead of carrying it."""
    forms = (form for form in report.get("presentedForm") or () if isinstance(form, Mapping))
    return [form["url"] for form in forms if isinstance(form.get("url"), str) and not form.get("data")]


async def _attachment(url: str, client: FhirClient | None) -> FetchedAttachment | str:
    if client is None:
        return "no FHIR access"
    try:
        return await client.attachment(url)
    except FhirError as error:
        return error.message


# ---------------------------------------------------------------- running things at once


async def _concurrently(*coroutines: Coroutine[Any, Any, T]) -> list[T]:
    """All at once; a failure cancels the others (``asyncio.gather`` would leave them running)."""
    if len(coroutines) <= 1:  # nothing to overlap: no task group to set up
        return [await coroutine for coroutine in coroutines]
    with _first_failure():
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in coroutines]
    return [task.result() for task in tasks]


@contextmanager
def _first_failure() -> Iterator[None]:
    """Raise a task group's failure itself, not wrapped in an ExceptionGroup, so callers catch
    ``PreconditionFailed`` and ``DeadlineExceeded`` as such; the deadline wins a tie."""
    try:
        yield
    except BaseExceptionGroup as failures:
        leaves = list(_leaves(failures))
        deadline = [failure for failure in leaves if isinstance(failure, DeadlineExceeded)]
        raise (deadline or leaves)[0] from None


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for failure in group.exceptions:
        if isinstance(failure, BaseExceptionGroup):
            yield from _leaves(failure)
        else:
            yield failure
