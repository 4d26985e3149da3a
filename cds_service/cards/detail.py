"""The Markdown `detail` of a card: why it fired, the report's words, every value with its date
and unit, what was missing or stale, the suspected mechanism, the artifact's id and version."""

from __future__ import annotations

from datetime import datetime

from cds_service.cards.escape import escape_text
from cds_service.clinical.evaluation import Evaluation, LabValue, RuleOutcome, UnusableLab
from cds_service.clinical.rules import number, unit_text

ANALYTE_NAMES = {
    "calcium-total": "Calcium, total",
    "calcium-ionized": "Calcium, ionized",
    "calcium-corrected": "Calcium, corrected for albumin",
    "phosphate": "Phosphate",
    "pth": "PTH, intact",
    "creatinine": "Creatinine",
    "egfr": "eGFR",
    "albumin": "Albumin",
    "vitamin-d": "25-OH vitamin D",
}
DISPLAY_ORDER = tuple(ANALYTE_NAMES)


def day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "date unknown"


def lab_line(lab: LabValue) -> str:
    """'Calcium, total 11.2 mg/dL (2026-11-02; upper limit 10.4, reference range)'."""
    value = f"{lab.comparator or ''}{number(lab.value)} {unit_text(lab.unit)}"
    notes = [day(lab.effective)]
    if lab.upper_limit is not None:
        source = lab.upper_limit_source or "default"
        notes.append(f"upper limit {number(lab.upper_limit)} {unit_text(lab.unit)}, {source}")
    if lab.converted and lab.original_value is not None:
        notes.append(f"converted from {number(lab.original_value)} {escape_text(lab.original_unit or '')}")
    if lab.computed:
        notes.append(escape_text(lab.note) if lab.note else "computed")
    if lab.interpretation:
        notes.append(f"flag {escape_text(lab.interpretation)}")
    return f"- {ANALYTE_NAMES.get(lab.analyte, lab.analyte)} {value} ({'; '.join(notes)})"


def labs_section(evaluation: Evaluation) -> list[str]:
    labs = evaluation.labs
    lines = [lab_line(labs.values[name]) for name in DISPLAY_ORDER if name in labs.values]
    if labs.egfr is not None and labs.egfr.computed and "egfr" not in labs.values:
        lines.append(lab_line(labs.egfr))
    if labs.calcium is not None:
        lines.append(f"- Calcium used for the rules: {ANALYTE_NAMES.get(labs.calcium.analyte)}")
    if labs.ca_x_p is not None:
        flag = " (≥ 55: flagged, not a trigger on its own)" if labs.ca_x_p_flagged else ""
        lines.append(f"- Ca×P product {labs.ca_x_p:.1f} mg²/dL²{flag}")
    return ["**Labs used**", *lines] if lines else ["**Labs used**", "- none recent and usable"]


def missing_section(evaluation: Evaluation) -> list[str]:
    labs = evaluation.labs
    lines = [f"- no recent usable {core}" for core in labs.missing_core]
    lines += [_unusable_line(u) for u in labs.unusable]
    lines += [f"- {escape_text(gap)}" for gap in evaluation.data_gaps]
    lines += [f"- report form not read: {escape_text(form)}" for form in evaluation.reading.skipped_forms]
    return ["**Missing, stale or unusable**", *lines] if lines else []


def _unusable_line(lab: UnusableLab) -> str:
    name = ANALYTE_NAMES.get(lab.analyte, escape_text(lab.analyte))
    return f"- {name} {escape_text(lab.display_value)} ({day(lab.effective)}): {escape_text(lab.reason)}"


def report_section(evaluation: Evaluation) -> list[str]:
    sentences = evaluation.reading.triggering_sentences[:4]
    quoted = [f"> {escape_text(sentence)}" for sentence in sentences]
    when = f" ({day(evaluation.report_date)})" if evaluation.report_date else ""
    return [f"**Report{when}**", *quoted] if quoted else []


def history_section(evaluation: Evaluation) -> list[str]:
    lines = [f"- {escape_text(text)}" for _, text in evaluation.history.evidence]
    return ["**Relevant conditions**", *lines] if lines else []


def render_detail(evaluation: Evaluation, rule: RuleOutcome, rule_title: str) -> str:
    blocks: list[list[str]] = [
        [f"**{rule_title}**", *(f"- {reason}" for reason in rule.reasons)],
        report_section(evaluation),
        labs_section(evaluation),
        history_section(evaluation),
        missing_section(evaluation),
        _suggestions_section(rule),
        ["**Suspected mechanism**: " + ", ".join(m.value for m in evaluation.mechanisms)],
        [
            f"Knowledge artifact {evaluation.artifact_id} {evaluation.artifact_version} · "
            f"rule {rule.rule_id} {rule.rule_version}"
        ],
    ]
    return "\n\n".join("\n".join(block) for block in blocks if block)


def _suggestions_section(rule: RuleOutcome) -> list[str]:
    lines = [f"- {s.label}: {s.reason}" for s in rule.suggestions]
    lines += [f"- not suggested, {w.test}: {w.reason}" for w in rule.withheld]
    return ["**Suggestions**", *lines] if lines else []
