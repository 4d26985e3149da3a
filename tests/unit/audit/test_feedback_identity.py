"""When two feedback items are one (design.md decision 7), and what an outcomeTimestamp is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cds_service.audit.feedback import (
    InvalidTimestamp,
    distinct,
    identity_key,
    joined_comments,
    parse_outcome_timestamp,
)
from cds_service.audit.records import FeedbackRecord, OverrideReasonRecord

AT = datetime(2021, 12, 11, 10, 5, 31, tzinfo=UTC)
DONE = OverrideReasonRecord("already-done", "urn:x", "Already done")


def item(**changes: object) -> FeedbackRecord:
    fields: dict[str, object] = {
        "card_uuid": "card-1",
        "outcome": "overridden",
        "outcome_timestamp": AT,
        "reasons": (DONE,),
    }
    fields.update(changes)
    return FeedbackRecord(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["2021-12-11T10:05:31Z", "2021-12-11T10:05:31.000Z", "2021-12-11T11:05:31+01:00", "2021-12-11t10:05:31z"],
    ids=["rfc3339-z", "fraction", "offset", "lower-case"],
)
def test_equal_instants_parse_equal(text: str) -> None:
    assert parse_outcome_timestamp(text) == AT


@pytest.mark.parametrize(
    "text",
    ["2021-12-11", "2021-12-11T10:05:31", "yesterday", "2021-13-11T10:05:31Z"],
    ids=["date-only", "no-zone", "words", "month-13"],
)
def test_not_an_rfc3339_date_time_is_refused(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_outcome_timestamp(text)


@pytest.mark.parametrize(
    "same",
    [
        item(reasons=(OverrideReasonRecord("already-done", "urn:x", "Other words", "a comment"),)),
        item(outcome_timestamp=AT.astimezone(timezone(timedelta(hours=1)))),
    ],
    ids=["comment-and-display-do-not-count", "same-instant"],
)
def test_items_that_are_the_same(same: FeedbackRecord) -> None:
    assert identity_key(same) == identity_key(item())


@pytest.mark.parametrize(
    "other",
    [
        item(card_uuid="card-2"),
        item(outcome="accepted", accepted_suggestions=("s1",)),
        item(outcome_timestamp=datetime(2021, 12, 11, 10, 5, 32, tzinfo=UTC)),
        item(reasons=(OverrideReasonRecord("not-relevant", "urn:x"),)),
        item(reasons=()),
    ],
    ids=["card", "outcome", "timestamp", "reason-code", "no-reason"],
)
def test_items_that_differ(other: FeedbackRecord) -> None:
    assert identity_key(other) != identity_key(item())


def test_accepted_suggestions_compare_as_a_set() -> None:
    one = item(outcome="accepted", accepted_suggestions=("s1", "s2"))
    two = item(outcome="accepted", accepted_suggestions=("s2", "s1", "s1"))

    assert identity_key(one) == identity_key(two)


def test_a_batch_loses_its_internal_repeats() -> None:
    keyed, repeats = distinct([item(), item(), item(card_uuid="card-2")])

    assert (len(keyed), repeats) == (2, 1)


def test_comments_are_joined_and_cleaned() -> None:
    reasons = (
        OverrideReasonRecord(user_comment=" first "),
        OverrideReasonRecord(user_comment="\x00"),
        DONE,
        OverrideReasonRecord(user_comment="second"),
    )

    assert joined_comments(reasons) == "first\nsecond"
