"""Evaluation → CDS Hooks cards: one card per rule that shows one (§4)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cds_service.cards.detail import render_detail
from cds_service.cards.service_request import draft_service_request
from cds_service.cards.summary import card_summary
from cds_service.cdshooks.models import Action, Card, Coding, Link, Source, Suggestion
from cds_service.clinical.evaluation import Evaluation, RuleOutcome, SuggestedOrder
from cds_service.knowledge import Artifact

NON_ADHERENCE = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
OVERRIDE_REASONS = (
    Coding(system=NON_ADHERENCE, code="action-completed", display="Action already completed"),
    Coding(system=NON_ADHERENCE, code="cds-not-applicable", display="Not applicable to this patient"),
    Coding(system=NON_ADHERENCE, code="patient-refuses", display="Patient refuses"),
    Coding(system=NON_ADHERENCE, code="need-more-info", display="Need more information"),
)
EXTENSION_KEY = "urn:calcification-cds:rule"


@dataclass(frozen=True)
class RenderedCard:
    """A card and the rule and suggestions behind it (the audit records both)."""

    card: Card
    rule: RuleOutcome
    report_id: str
    suggestion_uuids: tuple[str, ...]


def render_cards(evaluation: Evaluation, artifact: Artifact, topic_system: str) -> list[RenderedCard]:
    return [
        render_card(evaluation, rule, artifact, topic_system) for rule in evaluation.rules if rule.shows_card
    ]


def render_card(
    evaluation: Evaluation, rule: RuleOutcome, artifact: Artifact, topic_system: str
) -> RenderedCard:
    definition = artifact.rules[rule.rule_id]
    suggestions = [_suggestion(evaluation, order, artifact) for order in rule.suggestions]
    card = Card(
        uuid=str(uuid.uuid4()),
        summary=card_summary(evaluation, rule),
        detail=render_detail(evaluation, rule, definition.title),
        indicator=rule.indicator or "info",
        source=Source(
            label=artifact.title,
            url=artifact.documentation_url,
            topic=Coding(system=topic_system, code=rule.rule_id, display=definition.title),
        ),
        suggestions=suggestions or None,
        selectionBehavior=rule.selection_behavior if suggestions else None,
        overrideReasons=list(OVERRIDE_REASONS),
        links=[
            Link(
                label=artifact.evidence_by_id(ref).title,
                url=artifact.evidence_by_id(ref).url,
                type="absolute",
            )
            for ref in definition.evidence
        ]
        or None,
        extension={
            EXTENSION_KEY: {
                "ruleId": rule.rule_id,
                "ruleVersion": rule.rule_version,
                "artifactId": artifact.id,
                "artifactVersion": artifact.version,
                "reportId": evaluation.report_id,
            }
        },
    )
    return RenderedCard(card, rule, evaluation.report_id, tuple(s.uuid for s in suggestions if s.uuid))


def _suggestion(evaluation: Evaluation, order: SuggestedOrder, artifact: Artifact) -> Suggestion:
    resource = draft_service_request(order, evaluation, artifact.terminology)
    return Suggestion(
        label=order.label,
        uuid=str(uuid.uuid4()),
        isRecommended=order.recommended or None,
        actions=[Action(type="create", description=f"Draft order: {order.label}", resource=resource)],
    )
