"""assess_scope: is this a report the service evaluates at all? (§1, §6.19, §6.22, §6.23)

Three questions, in this order, each answered by the report itself (design.md decision 3: the
report's own status and category win over the hook context): is it a radiology report, is it
final (or amended, corrected, appended), and does the exam or the finding concern the lower
limb. Lower-limb words count only where the exam or the finding is named: the report code,
presentedForm titles, the EXAM/TECHNIQUE line or first line naming the exam, a coded body site,
or a FINDINGS/IMPRESSION/ADDENDUM sentence mentioning the calcification — never HISTORY alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cds_service.clinical.evaluation import ReportReading, Scope
from cds_service.clinical.patient_data import Resource
from cds_service.clinical.report.matching import CompiledLexicons, compiled
from cds_service.clinical.report.sections import FINDING_SECTIONS
from cds_service.clinical.report.text import codings
from cds_service.knowledge.lexicons import Lexicons


def assess_scope(
    report: Resource,
    reading: ReportReading,
    lexicons: Lexicons,
    scope_terminology: Mapping[str, Any] | None = None,
) -> Scope:
    """Scope of one report; `scope_terminology` may add lower-limb body-site codes."""
    lx = compiled(lexicons)
    status = str(report.get("status") or "missing")
    if status not in lexicons.scope.evaluated_statuses:
        return Scope(
            False,
            f"report status is {status}: only final, amended, corrected or appended reports are evaluated",
        )
    radiology, why = _radiology(report, reading, lx)
    if not radiology:
        return Scope(False, why)
    evidence = lower_limb_evidence(reading, lx, _extra_codes(scope_terminology))
    if evidence is None:
        return Scope(False, "neither the exam nor the finding concerns the lower limb")
    return Scope(True, f"{status} radiology report of the lower limb", lower_limb_evidence=evidence)


def _radiology(report: Resource, reading: ReportReading, lx: CompiledLexicons) -> tuple[bool, str]:
    categories = [c for c in report.get("category") or () if isinstance(c, Mapping)]
    if isinstance(report.get("category"), Mapping):
        categories = [report["category"]]
    if not categories:
        if any(lx.exam_words.search(text) for text in reading.exam_texts):
            return True, "no category; the exam is an imaging study"
        return False, "not a radiology report (no category and no imaging exam named)"
    known = {code.lower() for code in lx.lexicons.scope.radiology_categories}
    for concept in categories:
        for coding in codings(concept):
            if str(coding.get("code", "")).lower() in known:
                return True, "radiology category"
        words = " ".join(
            str(x) for x in (concept.get("text"), *(c.get("display") for c in codings(concept))) if x
        )
        if lx.radiology_category_words.search(words):
            return True, "radiology category"
    shown = ", ".join(str(c.get("code")) for concept in categories for c in codings(concept)) or "text only"
    return False, f"not a radiology report (category {shown})"


def lower_limb_evidence(
    reading: ReportReading, lx: CompiledLexicons, extra_codes: frozenset[str]
) -> str | None:
    """The words (or code) that put the report in scope, and where they stand."""
    for text in reading.exam_texts:
        hits = lx.lower_limb.find(text)
        if hits:
            return f"exam: {hits[0].text} ({' '.join(text.split())[:80]})"
    sites = set(lx.lexicons.scope.lower_limb_body_sites) | extra_codes
    found = sorted(reading.body_site_codes & sites)
    if found:
        return f"body site SNOMED {found[0]}"
    for mention in reading.mentions:
        if mention.section in FINDING_SECTIONS:
            hits = lx.lower_limb.find(mention.text)
            if hits:
                return f"finding: {hits[0].text} ({mention.text[:80]})"
    return None


def _extra_codes(terminology: Mapping[str, Any] | None) -> frozenset[str]:
    """Codes in a terminology mapping ({name: {code: ...}} or lists of codes)."""
    return frozenset(_codes_in(terminology)) if terminology else frozenset()


def _codes_in(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "code" and isinstance(value, str | int):
                yield str(value)
            else:
                yield from _codes_in(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from (str(item),) if isinstance(item, str | int) else _codes_in(item)
    elif hasattr(node, "model_dump"):
        yield from _codes_in(node.model_dump())
