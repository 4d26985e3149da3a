"""The numbers clinical governance watches, computed from the audit tables.

Per rule and ISO week (of the invocation): firings, silent would-fire counts, cards shown, and
what clinicians did with those cards — accepted, overridden, by override reason; the most
recent comments (an angry comment is the earliest sign of a broken rule); latency percentiles
against the 500 ms target; the outcomes breakdown. Week bucketing is done here rather than in
SQL so that SQLite and PostgreSQL give the same answer.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from cds_service.audit.export import instant
from cds_service.audit.schema import card, feedback, invocation, rule_firing
from cds_service.knowledge import Artifact

LATENCY_TARGET_MS = 500.0
RECENT_COMMENTS = 20
REVIEW_INTERVAL = timedelta(days=365)  # our assumption: an approved artifact is reviewed yearly
EXPIRY_WARNING = timedelta(days=90)  # flag an artifact this close to its expiry date


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: a value that was actually observed."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def governance_summary(
    engine: Engine, since: datetime, *, recent_comments: int = RECENT_COMMENTS
) -> dict[str, Any]:
    """Everything the governance view shows, for invocations received at or after ``since``."""
    with engine.connect() as connection:
        rules: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        reasons: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        _count_firings(connection, since, rules)
        _count_cards(connection, since, rules)
        _count_feedback(connection, since, rules, reasons)
        return {
            "since": instant(since),
            "rules": _rule_weeks(rules, reasons),
            "latency": _latency(connection, since),
            "outcomes": _outcomes(connection, since),
            "recentComments": _recent_comments(connection, since, recent_comments),
            "unknownCardFeedback": _unknown_card_feedback(connection, since),
        }


def _count_firings(
    connection: Connection, since: datetime, rules: dict[tuple[str, str], Counter[str]]
) -> None:
    query = (
        select(rule_firing.c.rule_id, rule_firing.c.status, invocation.c.received_at)
        .join(invocation, invocation.c.seq == rule_firing.c.invocation_seq)
        .where(invocation.c.received_at >= since)
    )
    for row in connection.execute(query):
        rules[(row.rule_id, iso_week(row.received_at))][
            "firings" if row.status == "fired" else "wouldFire"
        ] += 1


def _count_cards(connection: Connection, since: datetime, rules: dict[tuple[str, str], Counter[str]]) -> None:
    query = (
        select(card.c.rule_id, invocation.c.received_at)
        .join(invocation, invocation.c.seq == card.c.invocation_seq)
        .where(invocation.c.received_at >= since)
    )
    for row in connection.execute(query):
        rules[(row.rule_id, iso_week(row.received_at))]["cardsShown"] += 1


def _feedback_on_cards(since: datetime) -> Any:
    return (
        select(
            card.c.rule_id,
            invocation.c.received_at,
            feedback.c.outcome,
            feedback.c.reason_code,
            feedback.c.user_comment,
            feedback.c.outcome_timestamp,
            card.c.uuid,
        )
        .join(card, card.c.seq == feedback.c.card_seq)
        .join(invocation, invocation.c.seq == card.c.invocation_seq)
        .where(invocation.c.received_at >= since)
    )


def _count_feedback(
    connection: Connection,
    since: datetime,
    rules: dict[tuple[str, str], Counter[str]],
    reasons: dict[tuple[str, str], Counter[str]],
) -> None:
    for row in connection.execute(_feedback_on_cards(since)):
        key = (row.rule_id, iso_week(row.received_at))
        rules[key][row.outcome] += 1
        if row.outcome == "overridden":
            reasons[key][row.reason_code or "(no reason)"] += 1
        if row.user_comment:
            rules[key]["comments"] += 1


def _rule_weeks(
    rules: dict[tuple[str, str], Counter[str]], reasons: dict[tuple[str, str], Counter[str]]
) -> list[dict[str, Any]]:
    fields = ("firings", "wouldFire", "cardsShown", "accepted", "overridden", "comments")
    return [
        {
            "ruleId": rule_id,
            "week": week,
            **{name: counts[name] for name in fields},
            "overrideReasons": dict(reasons[(rule_id, week)].most_common()),
        }
        for (rule_id, week), counts in sorted(rules.items())
    ]


def _latency(connection: Connection, since: datetime) -> dict[str, Any]:
    query = select(invocation.c.duration_ms).where(invocation.c.received_at >= since)
    durations = sorted(float(value) for value in connection.execute(query).scalars())
    return {
        "count": len(durations),
        "p50Ms": percentile(durations, 0.50),
        "p95Ms": percentile(durations, 0.95),
        "p99Ms": percentile(durations, 0.99),
        "targetMs": LATENCY_TARGET_MS,
        "overTarget": sum(1 for value in durations if value > LATENCY_TARGET_MS),
    }


def _outcomes(connection: Connection, since: datetime) -> dict[str, int]:
    query = (
        select(invocation.c.outcome, func.count())
        .where(invocation.c.received_at >= since)
        .group_by(invocation.c.outcome)
    )
    return {str(outcome): int(total) for outcome, total in _pairs(connection.execute(query))}


def _pairs(rows: Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    return ((row[0], row[1]) for row in rows)


def _recent_comments(connection: Connection, since: datetime, limit: int) -> list[dict[str, Any]]:
    query = (
        _feedback_on_cards(since)
        .where(feedback.c.user_comment.is_not(None))
        .order_by(feedback.c.outcome_timestamp.desc())
        .limit(limit)
    )
    return [
        {
            "ruleId": row.rule_id,
            "card": row.uuid,
            "outcome": row.outcome,
            "reason": row.reason_code,
            "comment": row.user_comment,
            "at": instant(row.outcome_timestamp),
        }
        for row in connection.execute(query)
    ]


def _unknown_card_feedback(connection: Connection, since: datetime) -> int:
    query = (
        select(func.count())
        .select_from(feedback)
        .where(feedback.c.unknown_card.is_(True), feedback.c.received_at >= since)
    )
    return int(connection.execute(query).scalar_one())


def artifact_status(artifact: Artifact, today: date) -> dict[str, Any]:
    """The artifact as governance checks it: version, dates, and whether a review is overdue.

    The artifact records its last review, not the next one; the next is taken to be due a year
    later (``REVIEW_INTERVAL``). Every rule of the artifact is listed, firing or not, so that a
    rule that never fires is as visible as one that fires too often.
    """
    review_due = artifact.last_review_date + REVIEW_INTERVAL
    return {
        "id": artifact.id,
        "title": artifact.title,
        "version": artifact.version,
        "status": artifact.status,
        "steward": artifact.steward,
        "contentHash": artifact.content_hash,
        "approvalDate": artifact.approval_date.isoformat(),
        "lastReviewDate": artifact.last_review_date.isoformat(),
        "reviewDueDate": review_due.isoformat(),
        "expiryDate": artifact.expiry_date.isoformat(),
        "reviewOverdue": today > review_due,
        "expired": artifact.expired(today),
        "expiresSoon": not artifact.expired(today) and artifact.expiry_date - today <= EXPIRY_WARNING,
        "rules": [
            {"ruleId": rule_id, "title": rule.title, "version": rule.version, "status": rule.status}
            for rule_id, rule in artifact.rules.items()
        ],
    }
