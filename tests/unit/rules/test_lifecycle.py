"""§4 rule lifecycle: active (cards), silent (evaluated and audited as would-fire, not shown),
retired (not evaluated); an expired artifact may silence every rule; §0 versions."""

from __future__ import annotations

from cds_service.knowledge import Artifact
from cds_service.services.summaries import evaluation_summary, rule_firings
from tests.unit.rules.scenario import ARTIFACT, PHLEBOLITHS, PLAIN, rendered, run, shown


def with_status(rule_id: str, status: str) -> Artifact:
    rules = dict(ARTIFACT.rules)
    rules[rule_id] = rules[rule_id].model_copy(update={"status": status})
    return ARTIFACT.model_copy(update={"rules": rules})


def test_active_rule_returns_a_card() -> None:
    """§4 active: cards returned."""
    evaluation = run(PLAIN)
    assert shown(evaluation) == {"CalcFurtherImaging"}
    assert [r.rule.rule_id for r in rendered(evaluation)] == ["CalcFurtherImaging"]
    assert [(f.rule_id, f.status) for f in rule_firings(evaluation)] == [("CalcFurtherImaging", "fired")]


def test_silent_rule_evaluated_not_shown_recorded_as_would_fire() -> None:
    """§4 silent: evaluated and audited, not returned."""
    evaluation = run(PLAIN, artifact=with_status("CalcFurtherImaging", "silent"))
    rule = next(r for r in evaluation.rules if r.rule_id == "CalcFurtherImaging")
    assert rule.fired and rule.status == "silent" and not rule.shows_card
    assert rendered(evaluation) == [] and evaluation.outcome == "silent"
    assert [(f.rule_id, f.status) for f in rule_firings(evaluation)] == [("CalcFurtherImaging", "would-fire")]
    summary = next(r for r in evaluation_summary(evaluation)["rules"] if r["ruleId"] == "CalcFurtherImaging")
    assert summary["wouldFireSilently"] is True


def test_benign_pattern_activated_shows_its_card() -> None:
    """§4 CalcBenignPattern made active by governance returns its info card."""
    artifact = with_status("CalcBenignPattern", "active")
    evaluation = run(PHLEBOLITHS, artifact=artifact)
    cards = rendered(evaluation, artifact)
    assert [c.card.indicator for c in cards] == ["info"]
    assert "no further evaluation if asymptomatic" in cards[0].card.summary


def test_retired_rule_not_evaluated() -> None:
    """§4 retired: not evaluated (absent from the evaluation and the audit)."""
    evaluation = run(PLAIN, artifact=with_status("CalcFurtherImaging", "retired"))
    assert "CalcFurtherImaging" not in {r.rule_id for r in evaluation.rules}
    assert rendered(evaluation) == [] and rule_firings(evaluation) == []
    assert len(evaluation.rules) == 4


def test_expired_artifact_all_silent() -> None:
    """Lifecycle: an expired artifact set to silent evaluates every rule as silent (would-fire)."""
    evaluation = run(PLAIN, all_silent=True)
    assert {r.status for r in evaluation.rules} == {"silent"}
    assert rendered(evaluation) == [] and evaluation.outcome == "silent"


def test_artifact_identity() -> None:
    """§0 the artifact's identity, one rule per topic code each with version 1.0.0 and a status."""
    assert ARTIFACT.id == "calcification-lower-limb-xr"
    assert ARTIFACT.title == "Soft-tissue calcification on lower-limb radiographs"
    assert ARTIFACT.canonical == "urn:calcification-cds:artifact:calcification-lower-limb-xr"
    assert ARTIFACT.status == "active"
    assert ARTIFACT.version.split(".")[0] == "1"
    assert {rule_id: (r.version, r.status) for rule_id, r in ARTIFACT.rules.items()} == {
        "CalcRedFlags": ("1.0.0", "active"),
        "CalcMetabolicAbnormal": ("1.0.0", "active"),
        "CalcMetabolicWorkup": ("1.0.0", "active"),
        "CalcFurtherImaging": ("1.0.0", "active"),
        "CalcBenignPattern": ("1.0.0", "silent"),
    }
    evaluation = run(PLAIN)
    assert (evaluation.artifact_id, evaluation.artifact_version) == (ARTIFACT.id, ARTIFACT.version)
    assert evaluation.artifact_hash == ARTIFACT.content_hash != ""


def test_artifact_governance_defaults() -> None:
    """§0 steward 'Clinical governance', review yearly, expiry after two years."""
    assert ARTIFACT.steward == "Clinical governance"
    assert (ARTIFACT.expiry_date - ARTIFACT.approval_date).days in (730, 731)
    assert ARTIFACT.last_review_date >= ARTIFACT.approval_date
    assert {e.url for e in ARTIFACT.evidence} >= {
        "https://kdigo.org/guidelines/ckd-mbd/",
        "https://www.nice.org.uk/guidance/ng12",
    }
