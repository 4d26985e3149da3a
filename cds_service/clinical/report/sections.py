"""Report text → labelled sections (§2, §6.31).

Which section a sentence stands in decides what it may say: FINDINGS, IMPRESSION and ADDENDUM
carry the finding; HISTORY only clinical context; EXAM/TECHNIQUE only the exam's name (scope);
COMPARISON nothing. Labels are matched case-insensitively with their synonyms, ADDENDUM with any
suffix ("Addendum, 16:40:"); a label naming no section ("L FOOT:") starts text that counts like
FINDINGS and keeps its label (it may carry the side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.clinical.report.matching import CompiledLexicons, Hit

FINDING_SECTIONS = frozenset({"FINDINGS", "IMPRESSION", "ADDENDUM", "RECOMMENDATION"})
EXAM_SECTIONS = frozenset({"EXAM", "TECHNIQUE"})

_UNKNOWN_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 /&'().,#\-]{0,40}?)\s*:(?=\s|$)")
_BULLET = re.compile(r"^\s*(?:[-*•·]+|\d{1,2}[.)](?!\d)|[a-h][.)](?=\s))\s*")
_TRAILING_LABEL = re.compile(r"^[\s:\-–.]*$")
_ADDENDUM_SUFFIX = re.compile(r"^[^\n]{0,40}?(?::(?=\s|$)|$)")
_LABEL_END = re.compile(r"^\s*(?::|-|–)?(?=\s|$)")
# spaces after a full stop (or ; ! ?) before "Label:"; led by the space, so the engine skips to spaces
_MIDLINE_SPLIT = re.compile(r"\s(?<=[.;!?]\s)\s*(?=[A-Za-z][A-Za-z ]{1,38}:\s)")


@dataclass(slots=True)
class Section:
    """One section's text (never changed once made; not frozen: a frozen one costs more)."""

    name: str  # HISTORY, EXAM, TECHNIQUE, COMPARISON, FINDINGS, IMPRESSION, ADDENDUM, RECOMMENDATION
    text: str
    label: str | None = None  # the label as written, when it names no known section


@dataclass(frozen=True)
class SplitText:
    sections: tuple[Section, ...]
    first_line: str | None  # the text's first line before any label: it may name the exam (§6.23)


def split_sections(text: str, default: str, lexicons: CompiledLexicons) -> SplitText:
    """Cut a text at its section labels; text before the first label is in `default`."""
    current, label, lines = default, None, []
    sections: list[Section] = []
    first_line: str | None = None
    seen_label = False
    for line in _lines(text):
        header = _header(line, lexicons)
        if header is None:
            if not seen_label and first_line is None and line.strip():
                first_line = line.strip()
            lines.append(line)
            continue
        sections.append(Section(current, "\n".join(lines), label))
        current, label, rest = header
        seen_label = True
        lines = [rest] if rest.strip() else []
    sections.append(Section(current, "\n".join(lines), label))
    return SplitText(tuple(s for s in sections if s.text.strip()), first_line)


def _lines(text: str) -> list[str]:
    """Lines, with a known label that follows a sentence on the same line moved to its own."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if ":" in line:  # every label ends in one
            lines.extend(_MIDLINE_SPLIT.split(line))
        else:
            lines.append(line)
    return lines


def _header(line: str, lexicons: CompiledLexicons) -> tuple[str, str | None, str] | None:
    """(section, unknown label, rest of the line) when the line starts a section."""
    colon = ":" in line
    stripped = (_BULLET.sub("", line, count=1) if colon else line).lstrip()
    hit = lexicons.sections.find_at_start(stripped[:60])
    known = _known_header(stripped, hit) if hit is not None else None
    if known is not None:
        return known
    unknown = _UNKNOWN_LABEL.match(line) if colon else None
    if unknown and len(unknown.group(1).split()) <= 5 and not _is_sentence(unknown.group(1)):
        return "FINDINGS", unknown.group(1).strip(), line  # label included (§6.31)
    return None


def _known_header(line: str, hit: Hit) -> tuple[str, str | None, str] | None:
    """The section a line starts with this label, unless the label only starts a sentence."""
    name = hit.kind
    after = line[hit.end :]
    if name == "ADDENDUM":
        suffix = _ADDENDUM_SUFFIX.match(after)
        if suffix is None:
            return None
        return name, None, after[suffix.end() :]
    end = _LABEL_END.match(after)
    if end is None:
        return None
    rest = after[end.end() :]
    has_colon = ":" in after[: end.end()] or after[: end.end()].strip() in ("-", "–")
    if not has_colon and not _TRAILING_LABEL.match(rest):
        return None  # a sentence that merely starts with the word ("Findings are ...")
    return name, None, rest


def _is_sentence(label: str) -> bool:
    """A colon after a clause ("There is calcification: see below") is not a label."""
    words = label.lower().split()
    return any(word in ("is", "are", "was", "were", "has", "have", "the", "a", "of") for word in words[1:])
