"""``audit export``: the audit trail as NDJSON for a data warehouse, plain or as FHIR R4.

Plain records follow design.md (operator interface): one line per invocation with its cards
and the feedback on them. ``fhir`` gives, per invocation, one ``GuidanceResponse`` (module =
the knowledge artifact, outputParameters and evaluationMessage as contained resources) and one
``Provenance`` pointing at it. Invocations are read in batches in chain order, so the export
runs in constant memory whatever the size of the trail.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine, select

from cds_service.audit.schema import AnyRow, card, feedback, invocation, rule_firing

BATCH = 500
ARTIFACT_URN = "urn:calcification-cds:artifact:"
HOOK_INSTANCE_SYSTEM = "urn:calcification-cds:hook-instance"
AUDIT_RECORD_SYSTEM = "urn:calcification-cds:audit-record"
CLIENT_SYSTEM = "urn:calcification-cds:client"
ARTIFACT_HASH_SYSTEM = "urn:calcification-cds:artifact-sha256"
ExportFormat = Literal["ndjson", "fhir"]

# outcome -> GuidanceResponse.status; precondition-failed is "data-required" (the report or the
# patient could not be had), not "data-requested" (which means "more data may help").
GUIDANCE_STATUS = {
    "cards": "success",
    "no-finding": "success",
    "out-of-scope": "success",
    "suppressed": "success",
    "silent": "success",
    "precondition-failed": "data-required",
    "deadline": "failure",
    "rejected": "failure",
    "error": "failure",
}


@dataclass(frozen=True)
class InvocationExport:
    """One invocation with everything recorded about it, as read from the store."""

    invocation: AnyRow
    cards: list[AnyRow]
    firings: list[AnyRow]
    feedback: dict[int, list[AnyRow]]  # card seq -> feedback rows

    def answers(self) -> list[AnyRow]:
        """The feedback on this invocation's cards, card by card."""
        return [answer for sent in self.cards for answer in self.feedback.get(int(sent.seq), [])]


def export(
    engine: Engine,
    write: Callable[[str], object],
    since: datetime | None = None,
    export_format: ExportFormat = "ndjson",
) -> int:
    """Write one JSON line per record through ``write``; returns the number of invocations."""
    count = 0
    with engine.connect() as connection:
        for item in invocations(connection, since):
            for resource in as_fhir(item) if export_format == "fhir" else [as_record(item)]:
                write(orjson.dumps(resource).decode() + "\n")
            count += 1
    return count


def invocations(connection: Connection, since: datetime | None) -> Iterator[InvocationExport]:
    last_seq = 0
    while True:
        query = select(invocation).where(invocation.c.seq > last_seq).order_by(invocation.c.seq).limit(BATCH)
        if since is not None:
            query = query.where(invocation.c.received_at >= since)
        batch = list(connection.execute(query))
        if not batch:
            return
        yield from _with_details(connection, batch)
        last_seq = int(batch[-1].seq)


def _with_details(connection: Connection, batch: Sequence[AnyRow]) -> Iterator[InvocationExport]:
    seqs = [int(row.seq) for row in batch]
    cards = _grouped(
        connection.execute(select(card).where(card.c.invocation_seq.in_(seqs)).order_by(card.c.seq)),
        "invocation_seq",
    )
    firings = _grouped(
        connection.execute(
            select(rule_firing).where(rule_firing.c.invocation_seq.in_(seqs)).order_by(rule_firing.c.seq)
        ),
        "invocation_seq",
    )
    card_seqs = [int(row.seq) for rows in cards.values() for row in rows]
    answers = _grouped(
        connection.execute(
            select(feedback).where(feedback.c.card_seq.in_(card_seqs)).order_by(feedback.c.seq)
        ),
        "card_seq",
    )
    for row in batch:
        yield InvocationExport(row, cards.get(int(row.seq), []), firings.get(int(row.seq), []), answers)


def _grouped(rows: Iterable[AnyRow], key: str) -> dict[int, list[AnyRow]]:
    grouped: dict[int, list[AnyRow]] = defaultdict(list)
    for row in rows:
        grouped[int(row._mapping[key])].append(row)
    return grouped


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------- plain records


def as_record(item: InvocationExport) -> dict[str, Any]:
    row = item.invocation
    return {
        "hookInstance": row.hook_instance,
        "service": row.service,
        "hook": row.hook,
        "receivedAt": instant(row.received_at),
        "durationMs": row.duration_ms,
        "outcome": row.outcome,
        "outcomeReason": row.outcome_reason,
        "client": {"issuer": row.client_issuer, "tenant": row.client_tenant},
        "artifact": {"id": row.artifact_id, "version": row.artifact_version, "hash": row.artifact_hash},
        "prefetch": row.prefetch,
        "evaluations": row.evaluations,
        "suppressions": row.suppressions,
        "ruleFirings": [_firing(firing) for firing in item.firings],
        "cards": [_card(sent) for sent in item.cards],
        "feedback": [_feedback(answer) for answer in item.answers()],
        "seq": int(row.seq),
        "hash": row.record_hash,
    }


def _firing(row: AnyRow) -> dict[str, Any]:
    return {
        "ruleId": row.rule_id,
        "ruleVersion": row.rule_version,
        "reportId": row.report_id,
        "status": row.status,
    }


def _card(row: AnyRow) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "topic": row.topic,
        "ruleId": row.rule_id,
        "ruleVersion": row.rule_version,
        "indicator": row.indicator,
        "reportId": row.report_id,
        "suggestions": row.suggestion_uuids,
    }


def _feedback(row: AnyRow) -> dict[str, Any]:
    return {
        "card": row.card_uuid,
        "outcome": row.outcome,
        "acceptedSuggestions": row.accepted_suggestions,
        "overrideReason": _override_reason(row),
        "userComment": row.user_comment,
        "outcomeTimestamp": instant(row.outcome_timestamp),
        "receivedAt": instant(row.received_at),
    }


def _override_reason(row: AnyRow) -> dict[str, Any] | None:
    if row.reason_code is None:
        return None
    coding = {"system": row.reason_system, "code": row.reason_code, "display": row.reason_display}
    return {"reason": {k: v for k, v in coding.items() if v is not None}}


# ---------------------------------------------------------------------- FHIR R4


def resource_id(row: AnyRow) -> str:
    """Stable across exports and databases: derived from service and hookInstance."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:calcification-cds:{row.service}:{row.hook_instance}"))


def as_fhir(item: InvocationExport) -> list[dict[str, Any]]:
    guidance = guidance_response(item)
    return [guidance, provenance(item.invocation, guidance["id"])]


def guidance_response(item: InvocationExport) -> dict[str, Any]:
    row = item.invocation
    resource: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "id": resource_id(row),
        "contained": [output_parameters(item)],
        "requestIdentifier": {"system": HOOK_INSTANCE_SYSTEM, "value": row.hook_instance},
        "identifier": [{"system": AUDIT_RECORD_SYSTEM, "value": row.record_hash}],
        **_module(row),
        "status": GUIDANCE_STATUS.get(row.outcome, "failure"),
        "occurrenceDateTime": instant(row.received_at),
        "outputParameters": {"reference": "#output"},
    }
    if row.outcome_reason:
        resource["contained"].append(evaluation_message(row))
        resource["evaluationMessage"] = [{"reference": "#message"}]
    return resource


def _module(row: AnyRow) -> dict[str, str]:
    if row.artifact_id is None:
        return {"moduleUri": f"urn:calcification-cds:service:{row.service}"}
    version = f"|{row.artifact_version}" if row.artifact_version else ""
    return {"moduleCanonical": f"{ARTIFACT_URN}{row.artifact_id}{version}"}


def evaluation_message(row: AnyRow) -> dict[str, Any]:
    failed = GUIDANCE_STATUS.get(row.outcome, "failure") != "success"
    code = {"deadline": "timeout", "precondition-failed": "not-found"}.get(row.outcome, "processing")
    return {
        "resourceType": "OperationOutcome",
        "id": "message",
        "issue": [
            {
                "severity": "error" if failed else "information",
                "code": code if failed else "informational",
                "diagnostics": f"{row.outcome}: {row.outcome_reason}",
            }
        ],
    }


def output_parameters(item: InvocationExport) -> dict[str, Any]:
    row = item.invocation
    parameters: list[dict[str, Any]] = [
        {"name": "outcome", "valueCode": row.outcome},
        {"name": "service", "valueString": row.service},
        {"name": "hook", "valueString": row.hook},
        {"name": "durationMs", "valueDecimal": row.duration_ms},
    ]
    parameters += [{"name": "ruleFiring", "part": _firing_parts(firing)} for firing in item.firings]
    for sent in item.cards:
        parameters.append({"name": "card", "part": _card_parts(sent)})
        parameters += [
            {"name": "feedback", "part": _feedback_parts(answer)}
            for answer in item.feedback.get(int(sent.seq), [])
        ]
    return {"resourceType": "Parameters", "id": "output", "parameter": parameters}


def _strings(**values: str | None) -> list[dict[str, Any]]:
    return [{"name": name, "valueString": value} for name, value in values.items() if value]


def _firing_parts(row: AnyRow) -> list[dict[str, Any]]:
    return _strings(
        ruleId=row.rule_id, ruleVersion=row.rule_version, reportId=row.report_id, status=row.status
    )


def _card_parts(row: AnyRow) -> list[dict[str, Any]]:
    parts = _strings(
        uuid=row.uuid,
        topic=row.topic,
        ruleId=row.rule_id,
        ruleVersion=row.rule_version,
        indicator=row.indicator,
        reportId=row.report_id,
    )
    return parts + [{"name": "suggestion", "valueString": s} for s in row.suggestion_uuids]


def _feedback_parts(row: AnyRow) -> list[dict[str, Any]]:
    parts = _strings(card=row.card_uuid, outcome=row.outcome, userComment=row.user_comment)
    parts += [{"name": "acceptedSuggestion", "valueString": s} for s in row.accepted_suggestions]
    if row.reason_code:
        coding = {"system": row.reason_system, "code": row.reason_code, "display": row.reason_display}
        parts.append({"name": "overrideReason", "valueCoding": {k: v for k, v in coding.items() if v}})
    parts.append({"name": "outcomeTimestamp", "valueDateTime": instant(row.outcome_timestamp)})
    return parts


def provenance(row: AnyRow, guidance_id: str) -> dict[str, Any]:
    agents: list[dict[str, Any]] = [
        {
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                        "code": "assembler",
                    }
                ]
            },
            "who": {"display": f"calcification CDS service {row.service}"},
        }
    ]
    if row.client_issuer:
        agents.append({"who": {"identifier": {"system": CLIENT_SYSTEM, "value": row.client_issuer}}})
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": f"{guidance_id}",
        "target": [{"reference": f"GuidanceResponse/{guidance_id}"}],
        "recorded": instant(row.received_at),
        "activity": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE"}]
        },
        "agent": agents,
    }
    if row.artifact_hash:
        resource["entity"] = [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": ARTIFACT_HASH_SYSTEM, "value": row.artifact_hash},
                    "display": f"{row.artifact_id} {row.artifact_version}",
                },
            }
        ]
    return resource
