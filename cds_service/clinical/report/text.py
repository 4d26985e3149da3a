"""Every place a DiagnosticReport can carry its words or codes, read in §2's order of trust.

conclusionCode → coded result Observations → conclusion → presentedForm → narrative. Each text
keeps its source so a contradiction between sources can be settled by that order (§2, §6.38),
and every presentedForm we cannot read is recorded with the reason, for the card and the audit.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cds_service.clinical.patient_data import FetchedAttachment, Resource
from cds_service.knowledge.lexicons import Lexicons

SNOMED = "http://snomed.info/sct"
SOURCE_TRUST = ("conclusionCode", "result", "conclusion", "presentedForm", "text")
READABLE_TYPES = ("text/plain", "text/html", "text/rtf", "application/rtf", "application/xhtml+xml")
UNUSABLE_RESULT_STATUSES = frozenset({"entered-in-error", "cancelled"})


@dataclass(frozen=True)
class SourceText:
    """One piece of report text and the section it belongs to when it has no headers."""

    source: str  # conclusion, presentedForm, text, result
    text: str
    default_section: str  # IMPRESSION for `conclusion`, FINDINGS otherwise


@dataclass(frozen=True)
class CodedFinding:
    """A SNOMED finding code carried by the report or one of its results."""

    source: str  # conclusionCode or result
    code: str
    display: str
    entity: str | None
    present: bool


@dataclass(frozen=True)
class ReportTexts:
    coded: tuple[CodedFinding, ...]
    texts: tuple[SourceText, ...]
    titles: tuple[str, ...]  # presentedForm titles (they may name the exam, §6.23)
    skipped: tuple[str, ...]


def extract_texts(
    report: Resource,
    results: Sequence[Resource],
    attachments: Mapping[str, FetchedAttachment],
    lexicons: Lexicons,
) -> ReportTexts:
    """Gather codes and texts from the report and its results, and what could not be read."""
    codes = {coded.code: coded for coded in lexicons.coded_findings}
    coded = [*_conclusion_codes(report, codes), *_result_codes(results, codes, set(lexicons.coded_absent))]
    texts: list[SourceText] = []
    conclusion = report.get("conclusion")
    if isinstance(conclusion, str) and conclusion.strip():
        texts.append(SourceText("conclusion", conclusion, "IMPRESSION"))
    texts.extend(_result_texts(results))
    forms, titles, skipped = _presented_forms(report, attachments)
    texts.extend(forms)
    narrative = _narrative(report)
    if narrative:
        texts.append(SourceText("text", narrative, "FINDINGS"))
    return ReportTexts(tuple(coded), tuple(texts), tuple(titles), tuple(skipped))


# ---------------------------------------------------------------- codes


MAPPING = (dict, Mapping)
"""For isinstance: parsed JSON holds dicts, told apart at once; other mappings by the ABC's check."""


def codings(concept: Any) -> Iterator[Mapping[str, Any]]:
    """The codings of a CodeableConcept, tolerating malformed JSON."""
    if isinstance(concept, MAPPING):
        for coding in concept.get("coding") or ():
            if isinstance(coding, MAPPING):
                yield coding


def _is_snomed(coding: Mapping[str, Any]) -> bool:
    system = coding.get("system")
    return system in (None, SNOMED, "urn:oid:2.16.840.1.113883.6.96")


def _conclusion_codes(report: Resource, codes: Mapping[str, Any]) -> Iterator[CodedFinding]:
    for concept in report.get("conclusionCode") or ():
        for coding in codings(concept):
            known = codes.get(str(coding.get("code")))
            if known is not None and _is_snomed(coding):
                yield CodedFinding("conclusionCode", known.code, known.display, known.entity, True)


def _result_codes(
    results: Sequence[Resource], codes: Mapping[str, Any], absent: set[str]
) -> Iterator[CodedFinding]:
    """A result coding the finding, as its code or its value; a value of 'absent' negates it."""
    for result in results:
        if result.get("status") in UNUSABLE_RESULT_STATUSES:
            continue
        present = _result_says_present(result, absent)
        for concept in (result.get("code"), result.get("valueCodeableConcept")):
            for coding in codings(concept):
                known = codes.get(str(coding.get("code")))
                if known is not None and _is_snomed(coding):
                    yield CodedFinding("result", known.code, known.display, known.entity, present)


def _result_says_present(result: Resource, absent: set[str]) -> bool:
    if result.get("valueBoolean") is False:
        return False
    return not any(str(c.get("code")) in absent for c in codings(result.get("valueCodeableConcept")))


def _result_texts(results: Sequence[Resource]) -> Iterator[SourceText]:
    for result in results:
        if result.get("status") in UNUSABLE_RESULT_STATUSES:
            continue
        value = result.get("valueString")
        if isinstance(value, str) and value.strip():
            yield SourceText("result", value, "FINDINGS")
        for note in result.get("note") or ():
            if isinstance(note, Mapping) and isinstance(note.get("text"), str):
                yield SourceText("result", note["text"], "FINDINGS")


# ---------------------------------------------------------------- presentedForm


def media_type(content_type: str | None) -> str:
    """type/subtype only: `text/plain; charset=utf-8` is text/plain (§6.31)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _charset(content_type: str | None) -> str:
    found = re.search(r"charset\s*=\s*\"?([\w.:-]+)", content_type or "", re.IGNORECASE)
    return found.group(1) if found else "utf-8"


def _presented_forms(
    report: Resource, attachments: Mapping[str, FetchedAttachment]
) -> tuple[list[SourceText], list[str], list[str]]:
    texts: list[SourceText] = []
    titles: list[str] = []
    skipped: list[str] = []
    for index, form in enumerate(report.get("presentedForm") or ()):
        if not isinstance(form, Mapping):
            continue
        if isinstance(form.get("title"), str):
            titles.append(form["title"])
        text, problem = read_attachment(form, attachments)
        if text is not None:
            texts.append(SourceText("presentedForm", text, "FINDINGS"))
        elif problem:
            skipped.append(f"presentedForm[{index}]: {problem}")
    return texts, titles, skipped


def read_attachment(
    form: Mapping[str, Any], attachments: Mapping[str, FetchedAttachment]
) -> tuple[str | None, str | None]:
    """The plain text of one Attachment, or None and why it was not read."""
    declared = form.get("contentType")
    if form.get("data") is not None:
        try:
            body = base64.b64decode(str(form["data"]), validate=False)
        except (binascii.Error, ValueError):
            return None, "data is not valid base64"
        content_type = declared
    elif form.get("url"):
        fetched = attachments.get(str(form["url"]))
        if fetched is None:
            return None, f"{form['url']} was not fetched"
        body, content_type = fetched.data, declared or fetched.content_type
    else:
        return None, None
    return _decode(body, content_type)


def _decode(body: bytes, content_type: str | None) -> tuple[str | None, str | None]:
    kind = media_type(content_type) or "text/plain"
    if kind not in READABLE_TYPES:
        return None, f"{kind} is not read (only text/plain, text/html, text/rtf)"
    try:
        raw = body.decode(_charset(content_type))
    except (LookupError, UnicodeDecodeError):
        raw = body.decode("utf-8", errors="replace")
    if kind in ("text/html", "application/xhtml+xml"):
        return html_to_text(raw), None
    if kind in ("text/rtf", "application/rtf"):
        return rtf_to_text(raw), None
    return raw, None


def _narrative(report: Resource) -> str | None:
    text = report.get("text")
    if isinstance(text, Mapping) and isinstance(text.get("div"), str):
        return html_to_text(text["div"]).strip() or None
    return None


# ---------------------------------------------------------------- HTML and RTF

_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(
    r"<\s*(?:br|/?p|/?div|/?li|/?tr|/?h[1-6]|/?table|/?ul|/?ol|/?pre|/?section)\b[^>]*>", re.IGNORECASE
)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def html_to_text(markup: str) -> str:
    """Tags out, entities decoded, block elements kept as line breaks (sections are lines)."""
    text = _HIDDEN.sub(" ", markup)
    text = _BLOCK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines())


_RTF_TOKEN = re.compile(r"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}]+)", re.DOTALL)
_RTF_SKIPPED_DESTINATIONS = frozenset(
    {
        "fonttbl",
        "colortbl",
        "stylesheet",
        "info",
        "pict",
        "header",
        "footer",
        "headerl",
        "headerr",
        "footerl",
        "footerr",
        "listtable",
        "listoverridetable",
        "rsidtbl",
        "generator",
        "xmlnstbl",
        "themedata",
        "colorschememapping",
        "latentstyles",
        "datastore",
        "object",
        "fldinst",
    }
)
_RTF_BREAKS = frozenset({"par", "line", "row", "sect", "page"})


def rtf_to_text(rtf: str) -> str:
    """Control words and non-text destinations stripped; paragraphs kept as lines."""
    out: list[str] = []
    skip_depth: int | None = None  # the group depth at which a skipped destination began
    depth = 0
    pending_star = False
    unicode_skip = 0
    for word, arg, hex_byte, symbol, brace, text in _RTF_TOKEN.findall(rtf):
        if brace:
            depth += 1 if brace == "{" else -1
            if skip_depth is not None and depth < skip_depth:
                skip_depth = None
            continue
        skipping = skip_depth is not None
        if word:
            if word in _RTF_SKIPPED_DESTINATIONS or pending_star:
                skip_depth = depth if skip_depth is None else skip_depth
            pending_star = False
            if skipping or skip_depth is not None:
                continue
            if word in _RTF_BREAKS:
                out.append("\n")
            elif word == "tab":
                out.append("\t")
            elif word == "u" and arg:
                out.append(chr(int(arg) % 65536))
                unicode_skip = 1
            continue
        if symbol == "*":
            pending_star = True
            continue
        if skipping:
            continue
        if hex_byte:
            if unicode_skip:
                unicode_skip -= 1
            else:
                out.append(bytes([int(hex_byte, 16)]).decode("cp1252", errors="replace"))
        elif symbol:
            out.append(symbol if symbol in "\\{}" else ("\n" if symbol in "\n\r" else ""))
        elif text:
            if unicode_skip:
                text, unicode_skip = text[1:], 0
            out.append(text.replace("\r", "").replace("\n", ""))
    return "".join(out)
