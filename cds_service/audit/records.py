"""What the audit trail records: plain data built by the use cases, stored by the audit store.

No free text from the patient's record, no tokens: ids, versions, codes, normalised values,
units and dates only. Card bodies are kept as sent (they are our own text) so that a repeated
``hookInstance`` gets the same answer (design.md decision 4). The one exception is the
clinician's own feedback comment, which governance reads to spot a misbehaving rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

OUTCOMES = (
    "cards",
    "no-finding",
    "out-of-scope",
    "suppressed",
    "silent",
    "deadline",
    "precondition-failed",
    "rejected",
    "error",
)

FEEDBACK_OUTCOMES = ("accepted", "overridden")

FiringStatus = Literal["fired", "would-fire"]


@dataclass(frozen=True)
class CardRecord:
    uuid: str
    topic: str
    rule_id: str
    rule_version: str
    indicator: str
    report_id: str
    suggestion_uuids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleFiring:
    """A rule that fired for one report: ``fired`` (active rule) or ``would-fire`` (silent rule).

    Kept apart from the cards because a fired rule may still send no card (suppressed, deadline,
    store down), and governance counts firings and cards separately.
    """

    rule_id: str
    rule_version: str
    report_id: str
    status: FiringStatus = "fired"


@dataclass(frozen=True)
class InvocationRecord:
    hook_instance: str
    service: str
    hook: str
    client_issuer: str | None
    client_tenant: str | None
    received_at: datetime
    duration_ms: float
    outcome: str
    outcome_reason: str | None = None
    prefetch: dict[str, str] = field(default_factory=dict)  # key -> received/null/missing/error[+fetched]
    evaluations: tuple[dict[str, Any], ...] = ()  # one summary per evaluated report (no free text)
    cards: tuple[CardRecord, ...] = ()
    response: dict[str, Any] = field(default_factory=lambda: {"cards": []})
    artifact_id: str | None = None
    artifact_version: str | None = None
    artifact_hash: str | None = None
    suppressions: tuple[dict[str, Any], ...] = ()  # what was withheld and why
    extension: dict[str, Any] | None = None  # e.g. Epic trigger details (patient-view)
    rule_firings: tuple[RuleFiring, ...] = ()  # every rule that fired or would have (silent)


@dataclass(frozen=True)
class OverrideReasonRecord:
    """One override reason as the clinician gave it: a coded reason, a comment, or both."""

    code: str | None = None
    system: str | None = None
    display: str | None = None
    user_comment: str | None = None


@dataclass(frozen=True)
class FeedbackRecord:
    """One feedback item, normalised (design.md decision 7 decides which two are the same)."""

    card_uuid: str
    outcome: str  # accepted | overridden
    outcome_timestamp: datetime  # UTC
    accepted_suggestions: tuple[str, ...] = ()
    reasons: tuple[OverrideReasonRecord, ...] = ()


@dataclass(frozen=True)
class FeedbackReceipt:
    """What happened to one batch: stored, already on record, or stored but for an unknown card."""

    stored: int
    duplicates: int
    unknown_cards: int

    def as_json(self) -> dict[str, int]:
        return {"stored": self.stored, "duplicates": self.duplicates, "unknownCards": self.unknown_cards}
