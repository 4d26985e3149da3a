"""read_report: a DiagnosticReport (with its results and fetched Binaries) → ReportReading (§2)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cds_service.clinical.evaluation import Laterality, ReportReading
from cds_service.clinical.patient_data import FetchedAttachment, Resource
from cds_service.clinical.report.document import build_document
from cds_service.clinical.report.features import read_features
from cds_service.clinical.report.findings import (
    Lesion,
    coded_lesions,
    combine_sides,
    effective_lesions,
    finding_type,
    identify_across_report,
    mentions,
    sentence_lesions,
)
from cds_service.clinical.report.matching import CompiledLexicons, compiled
from cds_service.clinical.report.text import MAPPING, codings, extract_texts
from cds_service.knowledge.lexicons import Lexicons


def read_report(
    report: Resource,
    results: Sequence[Resource],
    attachments: Mapping[str, FetchedAttachment],
    lexicons: Lexicons,
) -> ReportReading:
    """Read every source of the report, decide the finding's assertion, type and features."""
    lx = compiled(lexicons)
    texts = extract_texts(report, results, attachments, lexicons)
    document = build_document(texts.texts, lx)
    lesions: list[Lesion] = coded_lesions(texts.coded)
    for sentence in document.sentences:
        if sentence.carries_finding and (sentence.finding_hits or sentence.entity_hits):
            lesions.extend(sentence_lesions(sentence, lx))
    lesions = identify_across_report(lesions, lx)
    standing = effective_lesions(lesions)
    exam_texts = (*_code_texts(report), *texts.titles, *document.exam_lines)
    exam_side = _exam_side(exam_texts, lx)
    features = read_features(document.sentences, standing, exam_side, lx)
    kind, needs_history = finding_type(standing, features.history, lx)
    return ReportReading(
        finding_counts=bool(standing),
        mentions=mentions(lesions),
        finding_type=kind,
        benign_entities=frozenset(lesion.entity for lesion in standing if lesion.entity),
        features=features,
        skipped_forms=texts.skipped,
        exam=_exam_name(exam_texts),
        ossification_needs_history=needs_history,
        exam_texts=tuple(text for text in exam_texts if text),
        body_site_codes=frozenset(_body_site_codes(report, results)),
    )


def _exam_side(texts: Sequence[str], lx: CompiledLexicons) -> Laterality:
    """The side the exam names (§6.9): "XR KNEE LEFT", "Bilateral knees"."""
    unique = dict.fromkeys(texts)  # the code's text and its display are often the same
    return combine_sides(hit.kind for text in unique for hit in lx.prepare(text).find(lx.sides))


def _code_texts(report: Resource) -> Iterator[str]:
    code = report.get("code")
    if isinstance(code, MAPPING):
        if isinstance(code.get("text"), str):
            yield code["text"]
        for coding in codings(code):
            if isinstance(coding.get("display"), str):
                yield coding["display"]


def _exam_name(exam_texts: Sequence[str]) -> str | None:
    """The first exam text that is not blank: the code's, a title, an EXAM/TECHNIQUE line."""
    for candidate in exam_texts:
        if candidate and candidate.strip():
            return " ".join(candidate.split())[:120]
    return None


def _body_site_codes(report: Resource, results: Sequence[Resource]) -> Iterator[str]:
    """SNOMED codes in the report's code and any bodySite of the report or its results (§1)."""
    for coding in codings(report.get("code")):
        yield str(coding.get("code"))
    for resource in (report, *results):
        for concept in _body_sites(resource):
            for coding in codings(concept):
                yield str(coding.get("code"))


_NESTED = (dict, list, Mapping)  # the values a bodySite may stand under (dicts and lists first)


def _body_sites(node: Any, depth: int = 0) -> Iterator[Any]:
    if depth > 6:
        return
    if isinstance(node, MAPPING):
        for key, value in node.items():
            if key == "bodySite":
                yield from value if isinstance(value, list) else (value,)
            elif not isinstance(value, str) and isinstance(value, _NESTED):  # most are str
                yield from _body_sites(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _body_sites(item, depth + 1)
