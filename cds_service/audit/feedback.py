"""Feedback identity: when two feedback items are the same one sent twice (design.md decision 7).

EHRs resend feedback (retries, batches that overlap), so the store keeps one row per distinct
item. Two items are the same when card, outcome, outcomeTimestamp, accepted suggestion ids and
reason codes are equal; the comment and the reason's display text do not make an item new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from cds_service.audit.records import FeedbackRecord, OverrideReasonRecord


class InvalidTimestamp(ValueError):
    """An outcomeTimestamp that is not an RFC 3339 date-time with a time zone."""


def parse_outcome_timestamp(value: str) -> datetime:
    """RFC 3339 §5.6 date-time, normalised to UTC so equal instants compare equal."""
    text = value.strip()
    if len(text) < 20 or text[10] not in "Tt ":
        raise InvalidTimestamp("must be an RFC 3339 date-time, e.g. 2021-12-11T10:05:31Z")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    except ValueError:
        raise InvalidTimestamp("must be an RFC 3339 date-time, e.g. 2021-12-11T10:05:31Z") from None
    if parsed.tzinfo is None:
        raise InvalidTimestamp("must carry a time zone (Z or ±hh:mm)")
    return parsed.astimezone(UTC)


def identity_key(item: FeedbackRecord) -> str:
    """SHA-256 of the fields that make an item distinct; the store keeps this key unique."""
    reason_codes = sorted(f"{r.system or ''}|{r.code}" for r in item.reasons if r.code)
    parts = [
        item.card_uuid,
        item.outcome,
        item.outcome_timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
        ",".join(sorted(set(item.accepted_suggestions))),
        ",".join(reason_codes),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def distinct(items: Iterable[FeedbackRecord]) -> tuple[list[tuple[str, FeedbackRecord]], int]:
    """The batch without its internal repeats, keyed; and how many repeats were dropped."""
    seen: dict[str, FeedbackRecord] = {}
    repeats = 0
    for item in items:
        key = identity_key(item)
        if key in seen:
            repeats += 1
        else:
            seen[key] = item
    return list(seen.items()), repeats


def clean_comment(comment: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; an empty comment is no comment."""
    if comment is None:
        return None
    cleaned = comment.replace("\x00", "").strip()
    return cleaned or None


def first_coded(reasons: tuple[OverrideReasonRecord, ...]) -> OverrideReasonRecord | None:
    """The reason governance counts: the first with a code (clients send one in practice)."""
    return next((reason for reason in reasons if reason.code), None)


def joined_comments(reasons: tuple[OverrideReasonRecord, ...]) -> str | None:
    comments = [c for c in (clean_comment(r.user_comment) for r in reasons) if c]
    return "\n".join(comments) or None
