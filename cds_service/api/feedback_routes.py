"""``POST /cds-services/{id}/feedback``: what clinicians did with our cards (checklist §5).

Every service takes feedback. Items arrive batched and are resent, so storing is idempotent
(design.md decision 7); feedback for a card we never sent is stored and flagged, not refused,
because the EHR cannot do anything better with it. A store outage answers 503 so the EHR
retries later, rather than a 200 that would lose the item.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError

from cds_service.api.body import read_json_object
from cds_service.api.deps import CallerDep, Resources, Service
from cds_service.api.responses import JsonResponse
from cds_service.audit.feedback import InvalidTimestamp, parse_outcome_timestamp
from cds_service.audit.records import FeedbackRecord, OverrideReasonRecord
from cds_service.audit.store import AuditUnavailable
from cds_service.cdshooks.models import FeedbackItem, FeedbackRequest
from cds_service.cdshooks.operation_outcome import operation_outcome
from cds_service.cdshooks.validation import describe_errors
from cds_service.errors import BadRequest
from cds_service.metrics import FEEDBACK_TOTAL

feedback_router = APIRouter()


@feedback_router.post("/cds-services/{service_id}/feedback")
async def post_feedback(
    request: Request, caller: CallerDep, service: Service, resources: Resources
) -> JsonResponse:
    settings = resources.settings
    body = await read_json_object(request, settings.max_body_bytes, settings.max_json_depth)
    items = feedback_records(parse_feedback(body))
    try:
        receipt = await resources.audit.record_feedback(
            service.definition.id, items, caller.issuer, resources.clock()
        )
    except AuditUnavailable:
        outcome = operation_outcome("transient", "feedback could not be stored now; send it again later")
        return JsonResponse(outcome, status_code=503)
    for item in items:
        FEEDBACK_TOTAL.labels(outcome=item.outcome).inc()
    return JsonResponse(receipt.as_json())


def parse_feedback(body: dict[str, object]) -> FeedbackRequest:
    try:
        return FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(describe_errors(exc.errors())) from None


def feedback_records(request: FeedbackRequest) -> list[FeedbackRecord]:
    return [feedback_record(index, item) for index, item in enumerate(request.feedback)]


def feedback_record(index: int, item: FeedbackItem) -> FeedbackRecord:
    """One item in the store's terms, whichever reason spelling and shape the client used."""
    try:
        timestamp = parse_outcome_timestamp(item.outcomeTimestamp)
    except InvalidTimestamp as problem:
        where = f"feedback.{index}.outcomeTimestamp"
        raise BadRequest(f"{where}: {problem}", expression=where) from None
    reasons = tuple(
        OverrideReasonRecord(
            code=reason.reason.code if reason.reason else None,
            system=reason.reason.system if reason.reason else None,
            display=reason.reason.display if reason.reason else None,
            user_comment=reason.userComment,
        )
        for reason in item.reasons()
    )
    return FeedbackRecord(
        card_uuid=item.card,
        outcome=item.outcome,
        outcome_timestamp=timestamp,
        accepted_suggestions=tuple(s.id for s in item.acceptedSuggestions or ()),
        reasons=reasons,
    )
