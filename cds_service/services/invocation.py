"""The frame every CDS service call runs in, whatever the hook.

Validate the request → answer a repeated hookInstance from the record → run the use case
within the invocation deadline → guard the output → record it (before answering) → log one
line. An empty card list always leaves with its reason recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from cds_service.audit.records import CardRecord, InvocationRecord, RuleFiring
from cds_service.audit.store import AlreadyRecorded, AuditUnavailable
from cds_service.cdshooks.guard import OutputGuardError, guarded_response
from cds_service.cdshooks.models import Card, CdsResponse, HookRequest
from cds_service.cdshooks.validation import describe_errors
from cds_service.errors import BadRequest, PreconditionFailed
from cds_service.fhir.deadline import DeadlineExceeded
from cds_service.metrics import INVOCATIONS, observe_invocation
from cds_service.security.caller import Caller
from cds_service.services.resources import ServiceResources

log = logging.getLogger("cds_service.invocation")

ContextT = TypeVar("ContextT")

EMPTY: dict[str, Any] = {"cards": []}


@dataclass
class UseCaseResult:
    """What a use case hands back to the frame."""

    outcome: str
    cards: list[Card] = field(default_factory=list)
    card_records: list[CardRecord] = field(default_factory=list)
    rule_firings: list[RuleFiring] = field(default_factory=list)
    outcome_reason: str | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    suppressions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Invocation:
    """One call in progress: what the use case may read and what it fills in on the way."""

    request: HookRequest
    caller: Caller
    deadline_at: float  # time.monotonic() value
    prefetch: dict[str, str] = field(default_factory=dict)  # filled by the gathering

    def remaining_s(self) -> float:
        return max(0.0, self.deadline_at - time.monotonic())


UseCase = Callable[[Invocation], Awaitable[UseCaseResult]]


def parse_request(body: dict[str, Any], expected_hook: str) -> HookRequest:
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(describe_errors(exc.errors())) from None
    if request.hook != expected_hook:
        raise BadRequest(
            f"hook '{request.hook}' is not served here; this service is for '{expected_hook}'",
            expression="hook",
        )
    return request


def admit(
    service_id: str,
    body: dict[str, Any],
    expected_hook: str,
    parse_context: Callable[[dict[str, Any]], ContextT],
) -> tuple[HookRequest, ContextT]:
    """The request and its context, or a 400 counted and logged as outcome `rejected`.

    A rejected call is not recorded in the audit store: its hookInstance stays free for the
    corrected call the EHR sends next.
    """
    try:
        request = parse_request(body, expected_hook)
        return request, parse_context(request.context)
    except BadRequest as error:
        hook_instance = body.get("hookInstance")
        INVOCATIONS.labels(service=service_id, outcome="rejected").inc()
        log.info(
            "invocation",
            extra={
                "hookInstance": hook_instance if isinstance(hook_instance, str) else None,
                "service": service_id,
                "outcome": "rejected",
                "reason": error.message,
            },
        )
        raise


async def run_invocation(
    *,
    service_id: str,
    request: HookRequest,
    caller: Caller,
    resources: ServiceResources,
    use_case: UseCase,
) -> dict[str, Any]:
    """Run one invocation end to end and return the JSON body to send."""
    started = time.monotonic()
    received_at = resources.clock()
    recorded = await _recorded_response(resources, service_id, request.hookInstance)
    if recorded is not None:
        log.info(
            "repeated hookInstance answered from the record",
            extra={"hookInstance": request.hookInstance, "service": service_id},
        )
        return recorded
    invocation = Invocation(request, caller, started + resources.settings.deadline_s)
    try:
        result, body = await _evaluate_within_deadline(invocation, use_case, resources)
    except PreconditionFailed as error:
        failed = UseCaseResult(outcome="precondition-failed", outcome_reason=error.message)
        record = _record_of(service_id, invocation, resources, failed, dict(EMPTY), received_at, started)
        await _record(resources, record)
        _log_line(record, caller, EMPTY)
        observe_invocation(record, EMPTY, time.monotonic() - started)
        raise
    record = _record_of(service_id, invocation, resources, result, body, received_at, started)
    body = await _record(resources, record)
    _log_line(record, caller, body)
    observe_invocation(record, body, time.monotonic() - started)
    return body


def _record_of(
    service_id: str,
    invocation: Invocation,
    resources: ServiceResources,
    result: UseCaseResult,
    body: dict[str, Any],
    received_at: datetime,
    started: float,
) -> InvocationRecord:
    request = invocation.request
    return InvocationRecord(
        hook_instance=request.hookInstance,
        service=service_id,
        hook=request.hook,
        client_issuer=invocation.caller.issuer,
        client_tenant=invocation.caller.tenant,
        received_at=received_at,
        duration_ms=round((time.monotonic() - started) * 1000, 2),
        outcome=result.outcome,
        outcome_reason=result.outcome_reason,
        prefetch=invocation.prefetch,
        evaluations=tuple(result.evaluations),
        cards=tuple(result.card_records) if body["cards"] else (),
        response=body,
        artifact_id=resources.artifact.id,
        artifact_version=resources.artifact.version,
        artifact_hash=resources.artifact.content_hash,
        suppressions=tuple(result.suppressions),
        rule_firings=tuple(result.rule_firings),
        extension=request.extension,
    )


async def _recorded_response(
    resources: ServiceResources, service_id: str, hook_instance: str
) -> dict[str, Any] | None:
    try:
        return await resources.audit.recorded_response(service_id, hook_instance)
    except AuditUnavailable:
        return None  # the recording step below will fail too and answer no cards


async def _evaluate_within_deadline(
    invocation: Invocation, use_case: UseCase, resources: ServiceResources
) -> tuple[UseCaseResult, dict[str, Any]]:
    try:
        async with asyncio.timeout(invocation.remaining_s()):
            result = await use_case(invocation)
    except (TimeoutError, DeadlineExceeded):
        reason = f"deadline of {resources.settings.deadline_ms} ms passed"
        return UseCaseResult(outcome="deadline", outcome_reason=reason), dict(EMPTY)
    try:
        body = guarded_response(CdsResponse(cards=result.cards))
    except OutputGuardError as defect:
        log.error(
            "output guard refused a response: %s",
            defect,
            extra={"hookInstance": invocation.request.hookInstance},
        )
        return UseCaseResult(outcome="error", outcome_reason=f"output guard: {defect}"), dict(EMPTY)
    return result, body


async def _record(resources: ServiceResources, record: InvocationRecord) -> dict[str, Any]:
    """No card leaves unaudited: a store failure answers no cards (design.md decision 5)."""
    try:
        await resources.audit.record_invocation(record)
    except AlreadyRecorded as repeat:  # a concurrent call with the same hookInstance won
        return repeat.response
    except AuditUnavailable as failure:
        log.error(
            "audit store unavailable; answering no cards: %s",
            failure,
            extra={"hookInstance": record.hook_instance, "service": record.service},
        )
        return dict(EMPTY)
    return record.response


def _log_line(record: InvocationRecord, caller: Caller, answer: dict[str, Any]) -> None:
    """One line per invocation; the topics are those of the cards actually sent."""
    topics = [card["source"]["topic"]["code"] for card in answer["cards"] if "topic" in card["source"]]
    extra = {
        "hookInstance": record.hook_instance,
        "service": record.service,
        "client": caller.name,
        "outcome": record.outcome,
        "durationMs": record.duration_ms,
        "topics": topics,
    }
    if record.cards and not answer["cards"]:
        extra["reason"] = "audit store unavailable: no cards sent"
    log.info("invocation", extra=extra)
