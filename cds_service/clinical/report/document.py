"""A report as sentences, each knowing its section and source, with its lexicon hits cached.

The feature readers ask each sentence for the same families of words again and again; every
family is matched at most once per sentence, and only when someone asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import overload

from cds_service.clinical.report.assertion import Judgement, SentenceCues
from cds_service.clinical.report.matching import CompiledLexicons, Hit, Prepared, once
from cds_service.clinical.report.sections import FINDING_SECTIONS, split_sections
from cds_service.clinical.report.sentences import split_sentences
from cds_service.clinical.report.text import SourceText

_NUMBER = r"\d+(?:[.,]\d+)?"
_UNIT = r"(?:cm|mm|centimet(?:er|re)s?|millimet(?:er|re)s?)"
# the first number's first digit comes first, its look-behind after it ("(?<![\w.])\d+" as
# "\d(?<![\w.]\d)\d*"): the engine then skips to the next digit instead of trying every character
_FIRST_NUMBER = r"\d(?<![\w.]\d)\d*(?:[.,]\d+)?"
_SIZE = re.compile(
    rf"{_FIRST_NUMBER}(?:\s*{_UNIT})?(?:\s*(?:x|×|\*|by|-|–|to)\s*{_NUMBER}(?:\s*{_UNIT})?){{0,2}}"
    rf"\s*{_UNIT}(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_ASCII_DIGIT = re.compile("[0-9]")  # in ASCII text, the only characters str.isdigit accepts
_SIZE_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})?", re.IGNORECASE)


@dataclass(slots=True)
class Size:
    """A measurement (never changed once made; not frozen, as `Hit`)."""

    start: int
    end: int
    cm: float
    text: str


class _Family:
    """A sentence's hits of one lexicon family (named as in `CompiledLexicons`), found when
    first asked for and then kept in the sentence; when `keep` is given, only the hits of that
    category (the family's other phrases only stop shorter words matching inside them)."""

    def __init__(self, family: str, keep: str | None = None) -> None:
        self._family = family
        self._keep = keep
        self._name = family

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, sentence: None, owner: type | None = None) -> _Family: ...
    @overload
    def __get__(self, sentence: Sentence, owner: type | None = None) -> list[Hit]: ...
    def __get__(self, sentence: Sentence | None, owner: type | None = None) -> list[Hit] | _Family:
        if sentence is None:
            return self
        hits = sentence.prepared.find(getattr(sentence.lx, self._family))
        if self._keep is not None and hits:
            hits = [hit for hit in hits if self._keep in hit.kinds]
        sentence.__dict__[self._name] = hits
        return hits


class Label:
    """A label naming no section ("L FOOT:"), shared by the sentences it heads."""

    def __init__(self, text: str, lexicons: CompiledLexicons) -> None:
        self.text = text
        self.lx = lexicons

    @once
    def sides(self) -> list[Hit]:
        """Its side words, found once for all its sentences."""
        return self.lx.prepare(self.text).find(self.lx.sides)


class Sentence:
    """One sentence of the report, with lazily matched lexicon families."""

    def __init__(
        self,
        text: str,
        section: str,
        label: Label | None,
        source: str,
        order: int,
        lexicons: CompiledLexicons,
    ) -> None:
        self.text = text
        self.section = section
        self.carries_finding = section in FINDING_SECTIONS
        self.label = label.text if label is not None else None
        self._label = label
        self.source = source
        self.order = order
        self.lx = lexicons
        self.prepared = Prepared(text, lexicons.screen)

    @property
    def label_sides(self) -> list[Hit]:
        return self._label.sides if self._label is not None else []

    @once
    def cues(self) -> SentenceCues:
        """Made when a word of the sentence is first judged: many sentences never are."""
        return SentenceCues(self.text, self.lx, self.prepared)

    def judge(self, hit: Hit | Size) -> Judgement:
        return self.cues.judge(hit.start, hit.end)

    def clause_of(self, hit: Hit | Size) -> tuple[int, int]:
        return self.cues.clause(hit.start, hit.end)

    def within(self, hits: list[Hit], bounds: tuple[int, int]) -> list[Hit]:
        if not hits:  # most families find nothing in most sentences
            return []
        low, high = bounds
        return [hit for hit in hits if hit.start >= low and hit.end <= high]

    @once
    def finding_hits(self) -> list[Hit]:
        """Words naming the finding, minus bone density, growth centres and non-soft-tissue sites."""
        hits = self.prepared.find(self.lx.finding)
        if not hits:
            return hits
        if self._outside_soft_tissue:
            return []
        excluded = self.prepared.find(self.lx.not_finding)
        return [hit for hit in hits if not any(ex.overlaps(hit.start, hit.end) for ex in excluded)]

    @once
    def _outside_soft_tissue(self) -> bool:
        """The sentence places the calcification in bone or a viscus, not in soft tissue."""
        find = self.prepared.find
        return bool(find(self.lx.outside_soft_tissue)) and not find(self.lx.soft_tissue)

    @once
    def entity_hits(self) -> list[Hit]:
        """Names of benign entities, none where the sentence places them outside soft tissue."""
        hits = self.prepared.find(self.lx.entities)
        return [] if hits and self._outside_soft_tissue else hits

    sites = _Family("sites")
    sides = _Family("sides")
    depth = _Family("depth")
    patterns = _Family("patterns")
    locations = _Family("locations")
    mass = _Family("mass", keep="mass")
    bone_involvement = _Family("bone_involvement")
    growth = _Family("growth")
    pain = _Family("pain")
    history = _Family("history")
    malignancy = _Family("malignancy", keep="malignancy")
    separate = _Family("separate_lesion")

    @once
    def sizes(self) -> list[Size]:
        """Measurements, minus distances ("3 cm proximal to") and other structures' sizes."""
        if not (_ASCII_DIGIT.search(self.text) if self.text.isascii() else any(map(str.isdigit, self.text))):
            return []
        found = []
        for match in _SIZE.finditer(self.text):
            before, after = self.text[max(0, match.start() - 40) : match.start()], self.text[match.end() :]
            if self.lx.size_not_before.search(before) or self.lx.size_not_after.match(after):
                continue
            found.append(Size(match.start(), match.end(), _largest_cm(match.group()), match.group()))
        return found


def _largest_cm(measure: str) -> float:
    """The largest dimension in cm; numbers without a unit take the last unit written."""
    parts = _SIZE_PART.findall(measure)
    last_unit = next((unit for _, unit in reversed(parts) if unit), "cm")
    values = []
    for number, unit in parts:
        value = float(number.replace(",", "."))
        values.append(value / 10 if (unit or last_unit).lower().startswith("m") else value)
    return round(max(values), 2)


@dataclass(frozen=True)
class Document:
    """The report's texts as sentences, and the lines that may name the exam."""

    sentences: tuple[Sentence, ...]
    exam_lines: tuple[str, ...]


def build_document(texts: tuple[SourceText, ...], lexicons: CompiledLexicons) -> Document:
    sentences: list[Sentence] = []
    exam_lines: list[str] = []
    for source_text in texts:
        split = split_sections(source_text.text, source_text.default_section, lexicons)
        if split.first_line and lexicons.exam_words.search(split.first_line):
            exam_lines.append(split.first_line)
        for section in split.sections:
            if section.name in ("EXAM", "TECHNIQUE"):
                exam_lines.append(section.text.strip())
            label = Label(section.label, lexicons) if section.label is not None else None
            for text in split_sentences(section.text, lexicons.abbreviations):
                sentences.append(
                    Sentence(text, section.name, label, source_text.source, len(sentences), lexicons)
                )
    return Document(tuple(sentences), tuple(exam_lines))
