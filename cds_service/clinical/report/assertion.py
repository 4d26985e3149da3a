"""Clause-scoped assertion: is a phrase present, possible, negated or resolved? (§2, §6.2, §6.21)

NegEx/ConText style, driven by the lexicon cues. For a target phrase in a sentence:

- a cue *before* it reaches it unless a terminator stands between them ("no fracture, but
  calcification" → present); a comma does not stop it, so lists stay negated ("no fracture,
  dislocation or calcification");
- a cue *after* it reaches back to it within the clause, but not across a comma that starts a
  new subject ("calcification in the calf, fracture not seen" → present);
- an after-cue is the clause's predicate and wins over a before-cue; otherwise the nearest
  before-cue decides;
- pseudo-negations ("no change in", "not only") are not negations of what follows them, but are
  of the words they contain ("no increase in size" negates growth, §6.21);
- a "?" directly before or after the target makes it possible; a "?" attached to another word
  ("…, ?gout") does not (§6.32).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from cds_service.clinical.evaluation import Assertion
from cds_service.clinical.report.matching import CompiledLexicons, Hit, Prepared, once

# in order of precedence when one phrase is several kinds of cue
_BEFORE = {
    "resolved-before": Assertion.RESOLVED,
    "possible-before": Assertion.POSSIBLE,
    "negated-before": Assertion.NEGATED,
    "pseudo": Assertion.PRESENT,
}
_AFTER = {
    "resolved-after": Assertion.RESOLVED,
    "possible-after": Assertion.POSSIBLE,
    "negated-after": Assertion.NEGATED,
    "pseudo": Assertion.PRESENT,
}
_TERMINATORS = frozenset({"terminator"})
_BEFORE_TERMINATORS = frozenset({"terminator", "terminator-before"})
# a bracketed "(?)" is a "?" too
_QUESTION_BEFORE = re.compile(r"\?\)?\s*(?:[\w'/-]+\s+){0,2}$")
_QUESTION_AFTER = re.compile(r"^(?:\s+[\w'/-]+)?\s*\(?\?\)?(?![\w])")
_COMMA = re.compile(r",")


@dataclass(slots=True)
class Judgement:
    """Never changed once made (not frozen, as `Hit`); `counts` is asked for every feature word."""

    assertion: Assertion
    cue: str | None = None
    counts: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.counts = self.assertion.counts


_PRESENT = Judgement(Assertion.PRESENT)
_QUESTION = Judgement(Assertion.POSSIBLE, "?")


@dataclass(slots=True)
class _CueFacts:
    """What one cue says, worked out once per sentence rather than once per judged span (never
    changed once made; a class with slots, not a named tuple: every judgement reads its fields,
    and a named tuple's cost twice as much to read)."""

    start: int
    end: int
    before: Judgement | None  # as a cue before the span, by the precedence of _BEFORE
    after: Judgement | None
    ends_before: bool  # a terminator for the cues before it
    ends_after: bool  # a terminator for the cues after it
    negation: Judgement | None  # a pseudo-negation negating the words it contains

    @classmethod
    def of(cls, cue: Hit) -> _CueFacts:
        return cls(cue.start, cue.end, *_what_cue_says(cue.kinds, cue.text))


_Said = tuple[Judgement | None, Judgement | None, bool, bool, Judgement | None]


@functools.lru_cache(maxsize=1024)
def _what_cue_says(kinds: frozenset[str], text: str) -> _Said:
    """`_CueFacts` but the cue's place, for a cue of these kinds written so: reports use the same
    few cues again and again ("no", "likely"), and the judgements are never changed."""
    before = next((k for k in _BEFORE if k in kinds), None)
    after = next((k for k in _AFTER if k in kinds), None)
    return (
        Judgement(_BEFORE[before], text) if before is not None else None,
        Judgement(_AFTER[after], text) if after is not None else None,
        bool(kinds & _BEFORE_TERMINATORS),
        bool(kinds & _TERMINATORS),
        Judgement(Assertion.NEGATED, text) if "pseudo" in kinds and _negating(text) else None,
    )


class SentenceCues:
    """One sentence's cues, found once; judges any span of the sentence against them."""

    def __init__(self, sentence: str, lexicons: CompiledLexicons, prepared: Prepared | None = None) -> None:
        self.sentence = sentence
        self._lexicons = lexicons
        self._prepared = prepared if prepared is not None else lexicons.prepare(sentence)
        self._judged: dict[tuple[int, int], Judgement] = {}  # a span is often judged again
        self._clauses: dict[tuple[int, int], tuple[int, int]] = {}

    @once
    def cues(self) -> list[Hit]:
        return self._prepared.find(self._lexicons.cues)

    def judge(self, start: int, end: int) -> Judgement:
        """The assertion of the words at [start, end)."""
        found = self._judged.get((start, end))
        if found is None:
            found = self._judged[start, end] = self._judge(start, end)
        return found

    def _judge(self, start: int, end: int) -> Judgement:
        # A cue overlapping the span is no cue for it (a pseudo-negation aside); leaving such
        # cues in changes nothing below: cues are sorted and apart, so an after-cue is looked
        # for only from `end`, and the before-cues end where the first cue reaching past
        # `start` stands.
        facts = self._cue_facts
        if not facts:  # most sentences: only a question mark can say anything
            return _QUESTION if "?" in self.sentence and self._question_mark(start, end) else _PRESENT
        for cue in facts:
            if cue.negation is not None and cue.start < end and start < cue.end:
                return cue.negation
        after = self._after_cue(end)
        if after is not None:
            return after
        if self._question_mark(start, end):
            return _QUESTION
        return self._before_cue(start) or _PRESENT

    def clause(self, start: int, end: int) -> tuple[int, int]:
        """The clause around [start, end): between the nearest terminators (for features)."""
        found = self._clauses.get((start, end))
        if found is None:
            found = self._clauses[start, end] = self._clause(start, end)
        return found

    def _clause(self, start: int, end: int) -> tuple[int, int]:
        low, high = 0, len(self.sentence)
        for cue in self.cues:
            if cue.kinds & _TERMINATORS:
                if cue.end <= start:
                    low = max(low, cue.end)
                elif cue.start >= end:
                    high = min(high, cue.start)
        return low, high

    @once
    def _cue_facts(self) -> list[_CueFacts]:
        return [_CueFacts.of(cue) for cue in self.cues]

    def _before_cue(self, start: int) -> Judgement | None:
        nearest: Judgement | None = None
        for cue in self._cue_facts:
            if cue.end > start:
                break
            if cue.ends_before:
                nearest = None
            elif cue.before is not None:
                nearest = cue.before
        return nearest

    def _after_cue(self, end: int) -> Judgement | None:
        limit: int | None = None  # worked out only when a cue stands after the span
        for cue in self._cue_facts:
            if cue.start < end:
                continue
            if limit is None:
                limit = self._after_limit(end)
            if cue.start >= limit:
                continue
            if cue.ends_after:
                return None
            if cue.after is not None and cue.end <= limit:
                return cue.after
        return None

    def _after_limit(self, end: int) -> int:
        """An after-cue reaches back over a comma only when the comma continues the subject."""
        for comma in self._comma_stops:
            if comma >= end:
                return comma
        return len(self.sentence)

    @once
    def _comma_stops(self) -> list[int]:
        """Where the commas that start a new subject stand."""
        if "," not in self.sentence:
            return []
        continues = self._lexicons.comma_continuation.match
        commas = _COMMA.finditer(self.sentence)
        return [comma.start() for comma in commas if not continues(self.sentence[comma.end() :])]

    def _question_mark(self, start: int, end: int) -> bool:
        if "?" not in self.sentence:
            return False
        before = self.sentence[max(0, start - 40) : start]
        return bool(_QUESTION_BEFORE.search(before) or _QUESTION_AFTER.match(self.sentence[end : end + 40]))


def _negating(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(("no ", "not ", "without ")) or " not " in f" {lowered} "
