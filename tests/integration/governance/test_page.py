"""The page renderer on hand-made summaries: what a reader of the page would notice."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from cds_service.audit.governance import artifact_status
from cds_service.governance import render_page
from cds_service.governance.page import MAX_WEEKS, week_columns
from cds_service.knowledge import load_artifact


def week(rule_id: str, name: str, **counts: int) -> dict[str, Any]:
    fields = ("firings", "wouldFire", "cardsShown", "accepted", "overridden", "comments")
    return {"ruleId": rule_id, "week": name, **{f: counts.get(f, 0) for f in fields}, "overrideReasons": {}}


def summary(rules: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "since": "2026-07-01T00:00:00.000Z",
        "generatedAt": "2026-09-01T08:00:00.000Z",
        "rules": rules,
        "latency": {
            "count": 0,
            "p50Ms": None,
            "p95Ms": None,
            "p99Ms": None,
            "targetMs": 500.0,
            "overTarget": 0,
        },
        "outcomes": {},
        "recentComments": [],
        "unknownCardFeedback": 0,
        "artifact": artifact_status(load_artifact(), date(2026, 12, 1)),
    }
    return base | changes


def test_quiet_weeks_get_a_column_of_their_own() -> None:
    assert week_columns(["2026-W52", "2027-W02", "2026-W52"]) == [
        "2026-W52",
        "2026-W53",
        "2027-W01",
        "2027-W02",
    ]


def test_only_the_latest_weeks_are_charted_and_the_page_says_so() -> None:
    names = [f"2026-W{number:02d}" for number in range(1, 31)]
    page = render_page(summary([week("CalcRedFlags", name, firings=1) for name in names]))

    assert week_columns(names) == names[-MAX_WEEKS:]
    assert f"Charts show the last {MAX_WEEKS} weeks with activity" in page
    assert "<th scope='row'>2026-W01</th>" in page  # the table keeps every week


def test_an_empty_period_reads_as_empty_not_broken() -> None:
    page = render_page(summary([]))

    assert "No invocations in this period." in page and "No comments in this period." in page
    assert "Nothing needs attention." in page
    assert page.count("No firings, cards or feedback in this period.") == 5  # every rule is listed


def test_a_rule_that_is_overridden_most_of_the_time_is_a_warning() -> None:
    rows = [week("CalcMetabolicWorkup", "2026-W28", firings=9, cardsShown=9, accepted=2, overridden=6)]
    page = render_page(summary(rows))

    assert "Warning: CalcMetabolicWorkup: 6 of 8 answered cards were overridden (75%)" in page


def test_slow_answers_failures_and_stray_feedback_are_warnings() -> None:
    latency = {"count": 3, "p50Ms": 90.0, "p95Ms": 720.0, "p99Ms": 900.0, "targetMs": 500.0, "overTarget": 1}
    page = render_page(summary([], latency=latency, outcomes={"cards": 1, "error": 2}, unknownCardFeedback=3))

    assert "Warning: Latency p95 720 ms is over the 500 ms target." in page
    assert "Warning: 2 invocation(s) ended in a deadline, refusal or error." in page
    assert "Warning: 3 feedback item(s) named a card this service never sent." in page
    assert "720 ms OVER TARGET" in page and "2 (67%) problem" in page


def test_a_rule_id_the_artifact_does_not_know_is_still_shown_escaped() -> None:
    page = render_page(summary([week("<b>OldRule</b>", "2026-W28", firings=1)]))

    assert "&lt;b&gt;OldRule&lt;/b&gt;" in page and "<b>OldRule</b>" not in page
    assert "not in this artifact" in page


def test_every_svg_chart_has_a_title_for_screen_readers() -> None:
    rows = [week("CalcRedFlags", "2026-W28", firings=2, cardsShown=2, overridden=1)]
    latency = {"count": 2, "p50Ms": 90.0, "p95Ms": 120.0, "p99Ms": 120.0, "targetMs": 500.0, "overTarget": 0}
    page = render_page(summary(rows, latency=latency, outcomes={"cards": 2}))

    charts = re.findall(r"<svg[^>]*>(.*?)</svg>", page, flags=re.S)
    assert len(charts) == 3 and all(chart.startswith("<title>") for chart in charts)
    assert datetime(2026, 9, 1, 8, tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC") in page
