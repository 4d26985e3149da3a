"""The lexicons, compiled once into regular expressions (the report reader's hot path).

Each family of phrases becomes one alternation with a named group per phrase, longest phrase
first, so that at any position the longest cue wins ("no evidence of" over "no", "cannot be
excluded" over "excluded"). Compiling costs tens of milliseconds; reading a report with the
compiled form costs about one, so the compiled form is cached per lexicon object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from cds_service.knowledge.lexicons import REGEX_PREFIX, BenignEntity, Lexicons, phrase_pattern


@dataclass(frozen=True)
class Hit:
    """One phrase found in a text: where, and which lexicon categories it belongs to."""

    start: int
    end: int
    kinds: frozenset[str]
    text: str

    @property
    def kind(self) -> str:
        return min(self.kinds)

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


class Matcher:
    """All phrases of one lexicon family, each tagged with its category.

    Plain phrases are compiled into one prefix tree (a regular expression that branches on
    each next character) matched on the lower-cased text: a few hundred cues cost about as much
    as one. ``re:`` phrases, few per family, form a second expression on the original text.
    """

    def __init__(self, categories: Mapping[str, Sequence[str]]) -> None:
        self._exact: dict[str, set[str]] = {}
        self._prefixes: list[tuple[str, str]] = []  # (normalised stem, kind) for `word*` phrases
        tree: _Trie = {}
        regexes: dict[str, set[str]] = {}
        for kind, phrases in categories.items():
            for phrase in phrases:
                if phrase.startswith(REGEX_PREFIX) or not any(ch.isalnum() for ch in phrase):
                    regexes.setdefault(phrase_pattern(phrase), set()).add(kind)
                else:
                    _insert(tree, _tokens(phrase))
                    self._remember(phrase, kind)
        self._plain = re.compile(_emit(tree)) if tree else None
        self._lower_regexes = _RegexGroup({src: k for src, k in regexes.items() if not _case_sensitive(src)})
        self._cased_regexes = _RegexGroup({src: k for src, k in regexes.items() if _case_sensitive(src)})

    def _remember(self, phrase: str, kind: str) -> None:
        key = _normalise(phrase.rstrip("*"))
        if phrase.endswith("*") and len(phrase) > 1:
            self._prefixes.append((key, kind))
        else:
            self._exact.setdefault(key, set()).add(kind)

    def find(self, text: str) -> list[Hit]:
        """Non-overlapping hits, leftmost first, the longest phrase at each position."""
        hits = self._plain_hits(text) + self._regex_hits(text)
        if len(hits) < 2:
            return hits
        hits.sort(key=lambda hit: (hit.start, hit.start - hit.end))
        chosen: list[Hit] = []
        for hit in hits:
            if not chosen or hit.start >= chosen[-1].end:
                chosen.append(hit)
        return chosen

    def search(self, text: str) -> bool:
        return bool(self.find(text))

    def _plain_hits(self, text: str) -> list[Hit]:
        if self._plain is None:
            return []
        lowered = text.lower()
        if len(lowered) != len(text):  # a rare character whose lower case is longer
            lowered = "".join(ch.lower()[0] for ch in text)
        hits = []
        for match in self._plain.finditer(lowered):
            if match.end() > match.start():
                matched = text[match.start() : match.end()]
                hits.append(Hit(match.start(), match.end(), self._classify(matched), matched))
        return hits

    def _classify(self, matched: str) -> frozenset[str]:
        key = _normalise(matched)
        kinds = set(self._exact.get(key, ()))
        kinds.update(kind for stem, kind in self._prefixes if key.startswith(stem))
        return frozenset(kinds) or frozenset({"unknown"})

    def _regex_hits(self, text: str) -> list[Hit]:
        lowered = text.lower()
        if len(lowered) != len(text):
            lowered = "".join(ch.lower()[0] for ch in text)
        return self._lower_regexes.hits(lowered, text) + self._cased_regexes.hits(text, text)


_WORD_START = re.compile(r"^(?:\\b|\(\?<!\\w\))")
_LETTER_OUTSIDE_ESCAPE = re.compile(r"[A-Z]")


def _case_sensitive(source: str) -> bool:
    """Patterns with a case-sensitive part (or capitals) run on the text as written."""
    return "(?-i:" in source or bool(_LETTER_OUTSIDE_ESCAPE.search(re.sub(r"\\[A-Za-z]", "", source)))


class _RegexGroup:
    """The ``re:`` phrases of a family. A leading word boundary is checked after matching and no
    named groups are used, so the engine can skip characters that start no phrase quickly."""

    def __init__(self, regexes: Mapping[str, set[str]]) -> None:
        flags = re.IGNORECASE if any(_case_sensitive(src) for src in regexes) else 0
        self._entries: list[tuple[re.Pattern[str], frozenset[str], bool]] = []
        stripped = []
        for source in sorted(regexes, key=len, reverse=True):
            bare = _WORD_START.sub("", source, count=1)
            self._entries.append((re.compile(bare, flags), frozenset(regexes[source]), bare != source))
            stripped.append(f"(?:{bare})")
        self._combined = re.compile("|".join(stripped), flags) if stripped else None

    def hits(self, searched: str, original: str) -> list[Hit]:
        if self._combined is None:
            return []
        found = []
        for match in self._combined.finditer(searched):
            start, end = match.start(), match.end()
            if end > start:
                kinds = self._kinds(searched, start, end)
                if kinds:
                    found.append(Hit(start, end, kinds, original[start:end]))
        return found

    def _kinds(self, searched: str, start: int, end: int) -> frozenset[str]:
        at_word_start = start == 0 or not (searched[start - 1].isalnum() or searched[start - 1] == "_")
        kinds: set[str] = set()
        for pattern, entry_kinds, needs_word_start in self._entries:
            if needs_word_start and not at_word_start:
                continue
            again = pattern.match(searched, start)
            if again is not None and again.end() == end:
                kinds |= entry_kinds
        return frozenset(kinds)


_Trie = dict[str, "_Trie"]
_END = ""  # the key marking "a phrase may end here"; its child holds the word-end check
_SEPARATOR = r"[\s\-]+"
_OPTIONAL_HYPHEN = r"[\s\-]?"
_CONTINUES = r"\w*"


def _normalise(text: str) -> str:
    return re.sub(r"[\s\-]+", "", text.lower())


def _tokens(phrase: str) -> list[str]:
    """A plain phrase as regex pieces: characters, word separators, a continuation, an end."""
    tokens: list[str] = [] if not phrase[:1].isalnum() else [r"(?<!\w)"]
    for index, word in enumerate(phrase.split()):
        if index:
            tokens.append(_SEPARATOR)
        continues = word.endswith("*") and len(word) > 1
        for position, piece in enumerate((word[:-1] if continues else word).split("-")):
            if position:
                tokens.append(_OPTIONAL_HYPHEN)
            tokens.extend(re.escape(ch) for ch in piece.lower())
        if continues:
            tokens.append(_CONTINUES)
    ends_in_word = phrase.rstrip("*")[-1:].isalnum()
    tokens.append(_END + (r"(?!\w)" if ends_in_word else ""))
    return tokens


def _insert(tree: _Trie, tokens: list[str]) -> None:
    node = tree
    for token in tokens[:-1]:
        node = node.setdefault(token, {})
    node.setdefault(_END + "\x00" + tokens[-1], {})


def _emit(node: _Trie) -> str:
    """The tree as a regular expression; longer continuations are tried before ending."""
    branches, endings = [], []
    for token, child in node.items():
        if token.startswith(_END + "\x00"):
            endings.append(token[1:])
        else:
            branches.append(token + _emit(child))
    alternatives = branches + sorted(set(endings), key=len, reverse=True)
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


def anchored(phrases: Iterable[str], *, at_end: bool) -> re.Pattern[str]:
    """A pattern matching one of the phrases right at the start (or end) of a text."""
    alternatives = "|".join(f"(?:{phrase_pattern(p)})" for p in phrases) or r"(?!x)x"
    source = rf"(?:{alternatives})\W*$" if at_end else rf"^\W*(?:{alternatives})"
    return re.compile(source, re.IGNORECASE)


class CompiledLexicons:
    """The artifact's lexicons as matchers, built lazily, one attribute per family."""

    def __init__(self, lexicons: Lexicons) -> None:
        self.lexicons = lexicons

    @cached_property
    def finding(self) -> Matcher:
        words = self.lexicons.finding
        return Matcher({"calcific": words.calcific, "ossific": words.ossific, "mineral": words.mineral})

    @cached_property
    def not_finding(self) -> Matcher:
        return Matcher({"not-finding": self.lexicons.finding.not_finding})

    @cached_property
    def outside_soft_tissue(self) -> Matcher:
        return Matcher({"outside": self.lexicons.finding.outside_soft_tissue})

    @cached_property
    def soft_tissue(self) -> Matcher:
        return Matcher({"soft-tissue": self.lexicons.finding.soft_tissue})

    @cached_property
    def entities(self) -> Matcher:
        return Matcher({entity.name: entity.terms for entity in self.lexicons.benign_entities})

    @cached_property
    def cues(self) -> Matcher:
        cues = self.lexicons.assertion
        return Matcher(
            {
                "negated-before": cues.negated_before,
                "negated-after": cues.negated_after,
                "possible-before": cues.possible_before,
                "possible-after": cues.possible_after,
                "resolved-before": cues.resolved_before,
                "resolved-after": cues.resolved_after,
                "pseudo": cues.pseudo,
                "terminator": cues.terminators,
                "terminator-before": cues.terminators_before,
            }
        )

    @cached_property
    def comma_continuation(self) -> re.Pattern[str]:
        return anchored(self.lexicons.assertion.comma_continuations, at_end=False)

    @cached_property
    def sections(self) -> Matcher:
        names = self.lexicons.sections
        return Matcher(
            {
                "HISTORY": names.history,
                "EXAM": names.exam,
                "TECHNIQUE": names.technique,
                "COMPARISON": names.comparison,
                "FINDINGS": names.findings,
                "IMPRESSION": names.impression,
                "ADDENDUM": names.addendum,
                "RECOMMENDATION": names.recommendation,
            }
        )

    @cached_property
    def depth(self) -> Matcher:
        depth = self.lexicons.depth
        deep = {f"deep:{name}": phrases for name, phrases in depth.deep.items()}
        superficial = {f"superficial:{name}": phrases for name, phrases in depth.superficial.items()}
        return Matcher(deep | superficial)

    @cached_property
    def sides(self) -> Matcher:
        sides = self.lexicons.laterality
        return Matcher({"left": sides.left, "right": sides.right, "bilateral": sides.bilateral})

    @cached_property
    def side_qualifies_other(self) -> re.Pattern[str]:
        return anchored(self.lexicons.laterality.qualifies_other, at_end=False)

    @cached_property
    def locations(self) -> Matcher:
        return Matcher(self.lexicons.locations)

    @cached_property
    def patterns(self) -> Matcher:
        patterns = self.lexicons.patterns
        benign = {f"benign:{name}": phrases for name, phrases in patterns.benign.items()}
        concerning = {f"concerning:{name}": phrases for name, phrases in patterns.concerning.items()}
        return Matcher(benign | concerning)

    @cached_property
    def mass(self) -> Matcher:
        return Matcher({"mass": self.lexicons.mass.terms, "not-mass": self.lexicons.mass.not_mass})

    @cached_property
    def bone_involvement(self) -> Matcher:
        return Matcher({"bone-involvement": self.lexicons.bone_involvement})

    @cached_property
    def growth(self) -> Matcher:
        return Matcher({"growth": self.lexicons.growth})

    @cached_property
    def pain(self) -> Matcher:
        pain = self.lexicons.pain
        return Matcher(
            {
                "pain": pain.pain,
                "lump": pain.lump,
                "focal-swelling": pain.focal_swelling,
                "swelling": pain.swelling,
            }
        )

    @cached_property
    def multiplicity_before(self) -> Matcher:
        return Matcher({"multiple": self.lexicons.multiplicity.before})

    @cached_property
    def multiplicity_after(self) -> Matcher:
        return Matcher({"multiple": self.lexicons.multiplicity.after})

    @cached_property
    def multiplicity_blockers(self) -> Matcher:
        return Matcher({"blocker": self.lexicons.multiplicity.blockers})

    @cached_property
    def history(self) -> Matcher:
        return Matcher(self.lexicons.history)

    @cached_property
    def malignancy(self) -> Matcher:
        words = self.lexicons.malignancy
        return Matcher({"malignancy": words.terms, "not-suspicion": words.not_suspicion})

    @cached_property
    def benign_qualifier(self) -> Matcher:
        return Matcher({"benign": self.lexicons.malignancy.benign_qualifiers})

    @cached_property
    def separate_lesion(self) -> Matcher:
        return Matcher({"separate": self.lexicons.separate_lesion})

    @cached_property
    def sites(self) -> Matcher:
        return Matcher({site.name: site.terms for site in self.lexicons.sites})

    @cached_property
    def site_parents(self) -> dict[str, frozenset[str]]:
        """Each site with every site it lies within, transitively (§6.33)."""
        direct = {site.name: set(site.within) for site in self.lexicons.sites}
        closure: dict[str, frozenset[str]] = {}
        for name in direct:
            seen: set[str] = set()
            todo = list(direct[name])
            while todo:
                parent = todo.pop()
                if parent not in seen:
                    seen.add(parent)
                    todo.extend(direct.get(parent, ()))
            closure[name] = frozenset(seen)
        return closure

    @cached_property
    def size_not_after(self) -> re.Pattern[str]:
        return anchored(self.lexicons.sizes.not_size_after, at_end=False)

    @cached_property
    def size_not_before(self) -> re.Pattern[str]:
        return anchored(self.lexicons.sizes.not_size_before, at_end=True)

    @cached_property
    def lower_limb(self) -> Matcher:
        return Matcher({"lower-limb": self.lexicons.scope.lower_limb})

    @cached_property
    def exam_words(self) -> Matcher:
        return Matcher({"exam": self.lexicons.scope.exam_words})

    @cached_property
    def radiology_category_words(self) -> Matcher:
        return Matcher({"radiology": self.lexicons.scope.radiology_category_words})

    @cached_property
    def abbreviations(self) -> frozenset[str]:
        return frozenset(word.lower().rstrip(".") for word in self.lexicons.abbreviations)

    @cached_property
    def entity_by_name(self) -> dict[str, BenignEntity]:
        return {entity.name: entity for entity in self.lexicons.benign_entities}


_CACHE: dict[int, CompiledLexicons] = {}


def compiled(lexicons: Lexicons) -> CompiledLexicons:
    """The compiled form of these lexicons, built on first use (keyed by object identity)."""
    found = _CACHE.get(id(lexicons))
    if found is not None and found.lexicons is lexicons:
        return found
    if len(_CACHE) > 8:  # a new artifact replaced the old ones (tests load several)
        _CACHE.clear()
    fresh = CompiledLexicons(lexicons)
    _CACHE[id(lexicons)] = fresh
    return fresh
