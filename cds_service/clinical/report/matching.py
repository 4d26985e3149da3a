"""The lexicons, compiled once into regular expressions (the report reader's hot path).

Each family of phrases becomes one alternation with a named group per phrase, longest phrase
first, so that at any position the longest cue wins ("no evidence of" over "no", "cannot be
excluded" over "excluded"). Compiling costs tens of milliseconds; reading a report with the
compiled form costs about one, so the compiled form is cached per lexicon object.

Most families match nothing in most sentences, so each part of a family (its plain phrases,
each ``re:`` phrase) also has *needles*: sets of strings such that any text the part matches
holds one string of each set ("calcif" for ``calcif*``; "calcif" and one of "tendon",
"insertion"... for a tendinitis expression). The `Screen` looks for the needles of every part
of every family once per sentence, through the sentence's words; a family is then scanned only
for its parts whose needles are all there, and a part that cannot match changes nothing when
left out (an alternation never picks an alternative that matches nowhere). So every hit, and
every judgement built on it, is the same as scanning every family in full.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import Any, Generic, TypeVar, overload

from cds_service.knowledge.lexicons import REGEX_PREFIX, BenignEntity, Lexicons, phrase_pattern

_T = TypeVar("_T")


class once(Generic[_T]):  # a decorator, named like functools.cached_property
    """`functools.cached_property` without its lock (Python 3.11 takes one on every first
    access, a cost the report reader pays a few hundred times per report). Objects using it
    belong to one reading, in one thread; a race would only compute the same value twice."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> once[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> _T | once[_T]:
        if instance is None:
            return self
        value = self._compute(instance)
        instance.__dict__[self._name] = value
        return value


@dataclass(slots=True)
class Hit:
    """One phrase found in a text: where, and which lexicon categories it belongs to.

    Never changed once made; not a frozen dataclass only because building one of those costs
    three times as much, and a report makes a hundred hits or more."""

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
        self._kinds_of: dict[str, frozenset[str]] = {}  # matched text → kinds, filled as met
        tree: _Trie = {}
        regexes: dict[str, set[str]] = {}
        needles: set[str] | None = set()
        self.phrase_pieces: list[tuple[str, ...]] = []  # of each plain phrase, lower-cased
        self.whole_pieces: list[frozenset[str]] = []  # those standing as whole words
        ends_in_words = True
        for kind, phrases in categories.items():
            for phrase in phrases:
                if phrase.startswith(REGEX_PREFIX) or not any(ch.isalnum() for ch in phrase):
                    regexes.setdefault(phrase_pattern(phrase), set()).add(kind)
                else:
                    tokens = _tokens(phrase)
                    _insert(tree, tokens)
                    ends_in_words = ends_in_words and _ends_in_word_character(tokens)
                    self._remember(phrase, kind)
                    pieces = _plain_pieces(phrase)
                    self.phrase_pieces.append(pieces)
                    self.whole_pieces.append(_whole_pieces(phrase))
                    needles = None if needles is None or not pieces else needles | {max(pieces, key=len)}
        ascii_source, self._plain_source, self._before = _scanner(tree, ends_in_words)
        self._plain_ascii = re.compile(ascii_source) if ascii_source is not None else None
        self._lower_regexes = _RegexGroup({src: k for src, k in regexes.items() if not _case_sensitive(src)})
        self._cased_regexes = _RegexGroup({src: k for src, k in regexes.items() if _case_sensitive(src)})
        self._cased_shift = 1 + len(self._lower_regexes.needles)
        self.needles: tuple[Clauses, ...] = (
            (frozenset(needles),) if needles is not None and tree else (),
            *self._lower_regexes.needles,
            *self._cased_regexes.needles,
        )
        """The needles of the plain phrases, then of each regular expression (see `Screen`).
        Those of regular expressions hold only in ASCII text, as case-insensitive matching
        folds a few other letters (the long s, the Kelvin sign) onto ASCII ones."""
        self.parts = (1 << len(self.needles)) - 1
        self._lower_parts = self.parts & ~1 & ~(-1 << self._cased_shift)
        self._cased_parts = self.parts & (-1 << self._cased_shift)
        self._regex_parts = self.parts & ~1

    @cached_property
    def _plain(self) -> re.Pattern[str] | None:
        """The prefix tree's expression for any lower-cased text, compiled when first needed:
        nearly every text is ASCII."""
        if self._plain_ascii is not None and self._plain_source == self._plain_ascii.pattern:
            return self._plain_ascii
        return re.compile(self._plain_source) if self._plain_source is not None else None

    def _remember(self, phrase: str, kind: str) -> None:
        key = _normalise(phrase.rstrip("*"))
        if phrase.endswith("*") and len(phrase) > 1:
            self._prefixes.append((key, kind))
        else:
            self._exact.setdefault(key, set()).add(kind)

    def find(self, text: str) -> list[Hit]:
        """Non-overlapping hits, leftmost first, the longest phrase at each position."""
        return self.find_lowered(text, lower(text))

    def find_lowered(self, text: str, lowered: str, possible: int = -1) -> list[Hit]:
        """`find`, with the text already lower-cased by `lower`; `possible` has a bit for each
        part (as in `needles`) that may match it, the others are not tried."""
        hits = self._plain_hits(text, lowered) if possible & 1 else []
        if not possible & self._regex_parts:
            return hits  # the prefix tree's hits are apart and in order already
        count = len(hits)
        if possible & self._lower_parts:
            hits += self._lower_regexes.hits(lowered, text, possible >> 1)
        if possible & self._cased_parts:
            hits += self._cased_regexes.hits(text, text, possible >> self._cased_shift)
        if len(hits) < 2 or len(hits) == count:
            return hits
        hits.sort(key=lambda hit: (hit.start, hit.start - hit.end))
        chosen: list[Hit] = []
        for hit in hits:
            if not chosen or hit.start >= chosen[-1].end:
                chosen.append(hit)
        return chosen

    def search(self, text: str) -> bool:
        return bool(self.find(text))

    def find_at_start(self, text: str) -> Hit | None:
        """The first hit of `find(text)` if it starts the text, else None (a section label)."""
        lowered = text.lower()  # `lower`, written out for the common case
        if len(lowered) != len(text):
            lowered = lower(text)
        plain = self._plain_ascii if lowered.isascii() else self._plain
        match = plain.match(self._before + lowered) if plain is not None else None
        if match is None and not self._regex_parts:  # most lines start no section
            return None
        found: list[Hit] = []
        if match is not None:
            end = match.end() - len(self._before)
            if not end:  # an empty match: only a full search can tell
                return self._first_at_start(text, lowered)
            found.append(self._plain_hit(text, 0, end))
        if not self._regex_parts:
            return found[0]
        for group, searched in ((self._lower_regexes, lowered), (self._cased_regexes, text)):
            if group.active:
                at_start, decided = group.hit_at_start(searched, text)
                if not decided:
                    return self._first_at_start(text, lowered)
                if at_start is not None:
                    found.append(at_start)
        # `find` sorts by start, then longest first, keeping this order between equals
        return max(found, key=lambda hit: hit.end, default=None)

    def _first_at_start(self, text: str, lowered: str) -> Hit | None:
        hits = self.find_lowered(text, lowered)
        return hits[0] if hits and hits[0].start == 0 else None

    def _plain_hits(self, text: str, lowered: str) -> list[Hit]:
        """The prefix tree's matches (`_plain_hit` written out: this loop is the hottest)."""
        plain = self._plain_ascii if lowered.isascii() else self._plain
        if plain is None:
            return []
        kinds_of = self._kinds_of
        before = len(self._before)
        hits = []
        for match in plain.finditer(self._before + lowered):
            start, end = match.start(), match.end() - before
            if end > start:
                matched = text[start:end]
                kinds = kinds_of.get(matched)
                hits.append(Hit(start, end, kinds if kinds is not None else self._kinds(matched), matched))
        return hits

    def _plain_hit(self, text: str, start: int, end: int) -> Hit:
        matched = text[start:end]
        kinds = self._kinds_of.get(matched)
        return Hit(start, end, kinds if kinds is not None else self._kinds(matched), matched)

    def _kinds(self, matched: str) -> frozenset[str]:
        """The kinds of a matched text, remembered."""
        kinds = self._classify(matched)
        if len(self._kinds_of) >= _KINDS_CACHE_SIZE:
            self._kinds_of.clear()
        self._kinds_of[matched] = kinds
        return kinds

    def _classify(self, matched: str) -> frozenset[str]:
        key = _normalise(matched)
        kinds = set(self._exact.get(key, ()))
        kinds.update(kind for stem, kind in self._prefixes if key.startswith(stem))
        return frozenset(kinds) or frozenset({"unknown"})


_KINDS_CACHE_SIZE = 4096
_SUBSETS_REMEMBERED = 64


def lower(text: str) -> str:
    """The text lower-cased character by character, so that positions stay the same."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a rare character whose lower case is longer
        lowered = "".join(ch.lower()[0] for ch in text)
    return lowered


_WORD_START = re.compile(r"^(?:\\b|\(\?<!\\w\))")
_LETTER_OUTSIDE_ESCAPE = re.compile(r"[A-Z]")


def _case_sensitive(source: str) -> bool:
    """Patterns with a case-sensitive part (or capitals) run on the text as written."""
    return "(?-i:" in source or bool(_LETTER_OUTSIDE_ESCAPE.search(re.sub(r"\\[A-Za-z]", "", source)))


_LOOKS_BEHIND_THEN_LITERAL = re.compile(
    r"(?P<behind>(?:\(\?<[=!](?:[^()\[\]\\|*+?{}.^$]|\\[swSW]|\\[^A-Za-z0-9])+\))+)"
    r"(?P<boundary>\\b)?"
    r"(?P<literal>(?:[A-Za-z0-9]|\\[^A-Za-z0-9]|[^\x00-\x7f])+)(?![*+?{])"
)
_LOOK_BEHIND = re.compile(r"\(\?<([=!])((?:[^()\\]|\\.)+)\)")


def _literal_first(source: str) -> str:
    r"""``(?<!non)\btender`` (looks behind, then letters) as ``tender(?<!nontender)(?<!\wtender)``:
    each look-behind holds characters one wide, so it tests the same characters once the letters
    are matched, and the engine gives up at once wherever the first letter is not."""
    leading = _LOOKS_BEHIND_THEN_LITERAL.match(source)
    if "\\\\" in source or leading is None:
        return source
    literal, boundary = leading["literal"], leading["boundary"]
    if boundary and not (literal[0].isascii() and literal[0].isalnum()):
        return source  # a word boundary is a word start only before a word character
    checks = "".join(
        f"(?<{kind}{behind}{literal})" for kind, behind in _LOOK_BEHIND.findall(leading["behind"])
    )
    word_start = f"(?<!\\w{literal})" if boundary else ""
    return literal + checks + word_start + source[leading.end() :]


_CASED_BOUNDARY_LETTER = re.compile(r"\(\?-i:\\b([A-Za-z])(?![*+?{])")


def _capital_after_boundary(source: str) -> str:
    r"""``(?-i:\bL`` (a case-sensitive letter starting a word, "L knee") as ``(?-i:L(?<!\wL)``:
    the same test, but one the engine gives up at once wherever that letter does not stand."""
    if "\\\\" in source:  # an escaped backslash: leave it as written
        return source
    return _CASED_BOUNDARY_LETTER.sub(lambda m: f"(?-i:{m[1]}(?<!\\w{m[1]})", source)


def _without_word_backtracking(source: str) -> str:
    r"""``\w+\s+`` (a word and the spaces after it, "(?:\w+\s+){0,3}") as ``\w++\s+``: the word
    can only end where the spaces start, so giving back its letters one by one, as the engine
    does in every word a phrase fails to follow, never matches: the same matches, found faster.
    Left as written when the source has an escaped backslash (``\\w`` is no word class)."""
    return source if "\\\\" in source else source.replace(r"\w+\s+", r"\w++\s+")


_LEADING_WORDS = re.compile(r"\(\?:\\w\+\+\\s\+\)(?:\?|\{0,\d*\})(?![?+])")


def _after_leading_words(source: str) -> str | None:
    r"""What follows optional leading words (``(?:\w++\s+)?`` or ``{0,n}``, after
    `_without_word_backtracking`): every match of the source holds a match of it (of one of its
    alternatives when it has several, the words leading only the first)."""
    leading = _LEADING_WORDS.match(source)
    return source[leading.end() :] or None if leading else None


_Entry = tuple[re.Pattern[str], frozenset[str], bool]  # (pattern, kinds, needs a word start)
_Combined = tuple[re.Pattern[str], list[_Entry], "re.Pattern[str] | None"]
"""One alternation of some entries, those entries, and the alternation led by the non-word
character before a word when every entry must start a word and more than one character may
start the alternation (see `_RegexGroup._word_start_hits`)."""


class _RegexGroup:
    """The ``re:`` phrases of a family. A leading word boundary is checked after matching and no
    named groups are used, so the engine can skip characters that start no phrase quickly."""

    def __init__(self, regexes: Mapping[str, set[str]]) -> None:
        self._flags = re.IGNORECASE if any(_case_sensitive(src) for src in regexes) else 0
        self._entries: list[_Entry] = []
        self._bare: list[str] = []
        sources = sorted(regexes, key=len, reverse=True)
        for source in sources:
            bare = _WORD_START.sub("", source, count=1)
            word_start = bare != source
            bare = _literal_first(_capital_after_boundary(_without_word_backtracking(bare)))
            self._entries.append((re.compile(bare, self._flags), frozenset(regexes[source]), word_start))
            self._bare.append(bare)
        self.needles: tuple[Clauses, ...] = tuple(regex_needles(source, self._flags) for source in sources)
        self._first_characters = [_first_character(bare) for bare in self._bare]
        self._all = (1 << len(self._entries)) - 1
        # the phrases led by optional words ("(?:\w+\s+)?artery ... calcif"): tried at every
        # letter of a text, each a word's length; first their rest must be found somewhere
        self._rests = [
            (1 << index, re.compile(rest, self._flags))
            for index, rest in enumerate(map(_after_leading_words, self._bare))
            if rest is not None
        ]
        self.active = bool(self._entries)
        # the alternation of each subset of the phrases met so far, by its bits: a phrase that
        # matches nowhere in a text changes nothing when left out of the alternation
        self._subsets: dict[int, _Combined] = {}
        if self.active:
            self._subset(self._all)

    def _subset(self, bits: int) -> _Combined:
        found = self._subsets.get(bits)
        if found is None:
            chosen = [index for index in range(len(self._entries)) if bits >> index & 1]
            alternation = "|".join(f"(?:{self._bare[index]})" for index in chosen)
            entries = [self._entries[index] for index in chosen]
            after_non_word = None
            firsts = {self._first_characters[index] for index in chosen}
            # one character starts every phrase: the engine skips to where it stands at once
            skips = len(firsts) == 1 and None not in firsts
            if not self._flags and not skips and all(word_start for _, _, word_start in entries):
                after_non_word = re.compile(f"{_BEFORE_WORD}(?:{alternation})")
            found = re.compile(alternation, self._flags), entries, after_non_word
            if len(self._subsets) >= _SUBSETS_REMEMBERED:
                self._subsets = {self._all: self._subsets[self._all]}
            self._subsets[bits] = found
        return found

    def hits(self, searched: str, original: str, possible: int = -1) -> list[Hit]:
        """The matches in `searched`; `possible` has a bit for each phrase that may match."""
        bits = possible & self._all
        for bit, rest in self._rests:
            if bits & bit and rest.search(searched) is None:
                bits ^= bit  # it matches nowhere: left out, it changes nothing
        if not bits:
            return []
        combined, entries, after_non_word = self._subsets.get(bits) or self._subset(bits)
        if after_non_word is not None:
            return self._word_start_hits(combined, after_non_word, entries, searched, original)
        found = []
        position = 0
        while (match := combined.search(searched, position)) is not None:
            start, end = match.start(), match.end()
            kinds = self._kinds(entries, searched, start, end) if end > start else frozenset()
            if kinds:
                found.append(Hit(start, end, kinds, original[start:end]))
                position = end
            else:  # e.g. a phrase that must start a word, met inside one ("infra|popliteal
                position = start + 1  # calcification"): it must not hide what overlaps it
        return found

    def _word_start_hits(
        self,
        combined: re.Pattern[str],
        after_non_word: re.Pattern[str],
        entries: list[_Entry],
        searched: str,
        original: str,
    ) -> list[Hit]:
        """`hits` when every phrase must start a word: the same hits, as a match inside a word
        is never one. The alternation is tried at the text's start, then only after non-word
        characters, which the engine skips to at once (as written, it tries the phrases at every
        character, or at every letter one of them starts with, inside words too). A match of
        `after_non_word` takes in the character before the phrase: it starts one before it."""
        found = []
        match = combined.match(searched)
        if match is not None and match.end() > 0:
            kinds = self._kinds(entries, searched, 0, match.end())
            if kinds:
                found.append(Hit(0, match.end(), kinds, original[: match.end()]))
        # the next phrase starts at or after `position`: its character before, one earlier
        position = found[0].end if found else 1
        while (match := after_non_word.search(searched, position - 1)) is not None:
            start, end = match.start() + 1, match.end()
            kinds = self._kinds(entries, searched, start, end) if end > start else frozenset()
            if kinds:
                found.append(Hit(start, end, kinds, original[start:end]))
                position = end
            else:  # as in `hits`
                position = start + 1
        return found

    def hit_at_start(self, searched: str, original: str) -> tuple[Hit | None, bool]:
        """(the first of `hits` if it starts the text, else None; True), or (None, False) when
        the expression matches the empty string there (the search would go on from there)."""
        combined, entries, _ = self._subset(self._all)
        match = combined.match(searched)
        if match is None:
            return None, True
        if match.end() == 0:
            return None, False
        kinds = self._kinds(entries, searched, 0, match.end())
        return (Hit(0, match.end(), kinds, original[: match.end()]) if kinds else None), True

    @staticmethod
    def _kinds(entries: list[_Entry], searched: str, start: int, end: int) -> frozenset[str]:
        at_word_start = start == 0 or not (searched[start - 1].isalnum() or searched[start - 1] == "_")
        kinds: set[str] = set()
        for pattern, entry_kinds, needs_word_start in entries:
            if needs_word_start and not at_word_start:
                continue
            again = pattern.match(searched, start)
            if again is not None and again.end() == end:
                kinds |= entry_kinds
        return frozenset(kinds)


def _first_character(source: str) -> int | None:
    """The character every match of the expression starts with, when it starts with one (the
    engine then skips at once to where that character stands, not trying the others)."""
    if _PARSER is None:  # pragma: no cover - another implementation: none known
        return None
    try:
        first = _PARSER.parse(source).data[:1]
    except Exception:  # an unexpected parse: none known (then scanned at word starts)
        return None
    return first[0][1] if first and getattr(first[0][0], "name", "") == "LITERAL" else None


_Trie = dict[str, "_Trie"]
_END = ""  # the key marking "a phrase may end here"; its child holds the word-end check
_SEPARATOR = r"[\s\-]+"
_OPTIONAL_HYPHEN = r"[\s\-]?"
_CONTINUES = r"\w*"


_SEPARATORS = re.compile(r"[\s\-]+")


def _normalise(text: str) -> str:
    return _SEPARATORS.sub("", text.lower())


def _tokens(phrase: str) -> list[str]:
    """A plain phrase as regex pieces: characters, word separators, a continuation, an end."""
    tokens: list[str] = [] if not phrase[:1].isalnum() else [_AT_WORD_START]
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


_AT_WORD_START = r"(?<!\w)"
_BEFORE_WORD = r"[^a-z0-9_](?<=\W)"  # the class rules out ASCII word characters, the look-behind the rest
# [^a-z0-9_] for lower-cased ASCII text (which holds no A-Z), its characters listed: the engine
# tests this class at every character of the text, and one without a negation costs a step less
_BEFORE_ASCII_WORD = r"[\x00-/:-@\[-^`{-\x7f]"


def _scanner(tree: _Trie, ends_in_words: bool) -> tuple[str | None, str | None, str]:
    """The prefix tree as an expression for lower-cased ASCII text and one for any lower-cased
    text, and the text to put before the lower-cased text searched.

    Most phrases start a word: as written, the expression tries every character of the text
    for a word start. When every phrase starts a word and every match ends in a word character,
    it looks instead for a non-word character followed by a phrase, in the text after a space
    (standing for its start), and the engine skips the letters of a word at once. Such a match
    takes in the character before the phrase; as the searched text has the space in front, it
    starts where the phrase starts in the lower-cased text and ends one past the phrase's end.
    It finds the same phrases: a phrase can start right where the one before it ended only
    after a non-word character, and no match ends in one. In lower-cased ASCII text every
    character outside ``[a-z0-9_]`` is a non-word character: no look-behind need check it."""
    if not tree:
        return None, None, ""
    if ends_in_words and list(tree) == [_AT_WORD_START]:
        body = _emit(tree[_AT_WORD_START])
        return _BEFORE_ASCII_WORD + body, _BEFORE_WORD + body, " "
    source = _emit(tree)
    return source, source, ""


def _ends_in_word_character(tokens: list[str]) -> bool:
    r"""Every match of the phrase ends in a word character: its last is one, then only `\w*`."""
    body = tokens[:-1]  # the last token ends the phrase
    while body and body[-1] == _CONTINUES:
        body.pop()
    return bool(body) and len(body[-1]) == 1 and _WORD.fullmatch(body[-1]) is not None


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


# ---------------------------------------------------------------- needles and the screen


def _plain_pieces(phrase: str) -> tuple[str, ...]:
    """The pieces of a plain phrase between spaces and hyphens: each stands, lower-cased, in
    every text the phrase matches."""
    return tuple(
        piece.lower()
        for word in phrase.split()
        for piece in (word[:-1] if word.endswith("*") and len(word) > 1 else word).split("-")
        if piece
    )


def _whole_pieces(phrase: str) -> frozenset[str]:
    """The pieces of a plain phrase that stand as whole words in every text it matches: its
    words of word characters only (no hyphen, no continuation), between its separators and the
    word start and end `_tokens` puts around it."""
    words = phrase.split()
    starts_word = phrase[:1].isalnum()
    ends_word = phrase.rstrip("*")[-1:].isalnum()
    whole = set()
    for index, word in enumerate(words):
        piece = word.lower()
        if not _WORD.fullmatch(piece):
            continue
        if (index == 0 and not starts_word) or (index == len(words) - 1 and not ends_word):
            continue
        whole.add(piece)
    return frozenset(whole)


def _parser() -> ModuleType | None:
    try:
        return importlib.import_module("re._parser")  # the standard library's own parser (3.11+)
    except ImportError:  # pragma: no cover - another implementation: regexes are always scanned
        return None


_PARSER = _parser()


def regex_needles(source: str, flags: int = 0) -> Clauses:
    """Sets of strings such that every match of the regular expression contains (or stands
    beside, for a look-around) one string of each set; none when we cannot be sure of any."""
    if _PARSER is None:
        return ()
    try:
        parsed = _PARSER.parse(source, flags)
    except Exception:  # an unexpected parse: no needles, always scanned
        return ()
    clauses = sorted(_sequence_clauses(parsed, cased=False), key=_selectivity, reverse=True)
    # the best set, and a few more unless they hold a single character (nearly every text has
    # one: checking them costs more than it saves)
    kept = [clause for clause in clauses[1:_CLAUSES_KEPT] if min(len(n.lstrip(CASED)) for n in clause) > 1]
    return tuple(clauses[:1] + kept)


Clauses = tuple[frozenset[str], ...]
"""Sets of needles, lower-cased; a needle starting with `CASED` must stand in the text as
written (it comes from a case-sensitive part of an expression run on the text as written)."""
CASED = "\x00"
WHOLE = "\x01"  # a needle that stands as a whole word of the lower-cased text
_CLAUSES_KEPT = 3


def _sequence_clauses(items: Iterable[tuple[Any, Any]], *, cased: bool) -> list[frozenset[str]]:
    """A sequence matches each item in turn: every item's needles (a run of literal characters
    counting as one item) are needed."""
    clauses: list[frozenset[str] | None] = []
    run = ""
    for op, argument in items:
        name = getattr(op, "name", "")
        if name == "LITERAL":
            run += chr(argument)
            continue
        if run:
            clauses.append(_usable({run}, cased=cased))
            run = ""
        clauses.extend(_item_clauses(name, argument, cased=cased))
    if run:
        clauses.append(_usable({run}, cased=cased))
    return [clause for clause in clauses if clause]


def _best(items: Iterable[tuple[Any, Any]], *, cased: bool) -> frozenset[str] | None:
    return max(_sequence_clauses(items, cased=cased), key=_selectivity, default=None)


def _item_clauses(name: str, argument: Any, *, cased: bool) -> Sequence[frozenset[str] | None]:
    if name == "SUBPATTERN":  # (group, added flags, removed flags, pattern)
        if argument[2] & re.IGNORECASE:
            cased = True
        elif argument[1] & re.IGNORECASE:
            cased = False
        return _sequence_clauses(argument[3], cased=cased)
    if name == "ATOMIC_GROUP":
        return _sequence_clauses(argument, cased=cased)
    if name == "ASSERT":  # a positive look-around: its text stands in the text too
        return _sequence_clauses(argument[1], cased=cased)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):  # (min, max, pattern)
        return _sequence_clauses(argument[2], cased=cased) if argument[0] >= 1 else []
    if name == "BRANCH":  # (None, alternatives): one of them matches
        union: set[str] = set()
        for alternative in argument[1]:
            found = _best(alternative, cased=cased)
            if found is None:
                return []
            union |= found
        return [frozenset(union)]
    if name == "IN" and argument and all(getattr(op, "name", "") == "LITERAL" for op, _ in argument):
        return [_usable({chr(code) for _, code in argument}, cased=cased)]
    return []


def _usable(literals: set[str], *, cased: bool) -> frozenset[str] | None:
    """Literal text as needles: lower-cased, or marked when matched case-sensitively; None if
    one has a letter that matches an ASCII letter when case is ignored (the long s, the Kelvin
    sign): in ASCII text its absence would prove nothing."""
    if not all(
        literal and CASED not in literal and WHOLE not in literal and all(map(_folds_apart, literal))
        for literal in literals
    ):
        return None
    return frozenset(CASED + literal if cased else literal.lower() for literal in literals)


def _selectivity(needles: frozenset[str]) -> float:
    """Higher for needles less likely to stand in a text: longer ones, fewer, punctuation."""
    return -sum(20.0 ** -(len(needle) + (not needle[0].isalnum())) for needle in needles)


def _folds_apart(char: str) -> bool:
    """ASCII, or matching no ASCII character even ignoring case."""
    if char.isascii():
        return True
    pattern = re.compile(re.escape(char), re.IGNORECASE)
    return not any(pattern.fullmatch(chr(code)) for code in range(128))


class Screen:
    """Which parts of which families can match a text, found once per text.

    Each part of a family (its plain phrases, each regular expression) gets a bit, set when the
    text holds a needle of its first set, and cleared again when it lacks every needle of
    another of its sets. Needles are looked for in four ways:

    - a needle of word characters, or the run of three or more word characters in a needle
      with punctuation ("there" in "there's"), lies inside one word of any text holding the
      needle, so each run of text between spaces is scanned once for all of them (and
      remembered: runs recur from report to report);
    - a plain phrase's word that its phrase keeps whole ("rt") is looked up among the words of
      each run, when the run is first met;
    - other needles with punctuation ("s/p", ";") are looked for as they are, in each run
      between spaces too (remembered with it) unless they hold a space;
    - case-sensitive needles ("HO", "L" before a limb) are looked for in the text as written.

    A part without needles is always possible, and so is every regular expression when the
    text is not ASCII.
    """

    def __init__(self, matchers: Sequence[Matcher], everyday_families: Sequence[Matcher] = ()) -> None:
        self.shifts: dict[Matcher, int] = {}
        self.always = 0
        self.folding = 0
        in_words: dict[str, int] = {}
        as_written: dict[str, int] = {}  # punctuation needles: in the lower-cased text
        cased: dict[str, int] = {}  # in the text as written
        whole_words: dict[str, int] = {}  # words of the lower-cased text, whole
        self._needs: dict[int, int] = {}  # a part's bit → the bits of its other needle sets
        total = sum(len(matcher.needles) for matcher in matchers)
        shift = 0
        # a plain phrase is looked for by its piece least used across the lexicons, and not by
        # a word of the families nearly every sentence read uses when it has another piece:
        # "metastatic" rather than "calcification", "mass" rather than "soft"
        used = Counter(
            piece for matcher in matchers for pieces in matcher.phrase_pieces for piece in set(pieces)
        )
        everyday = _everyday_pieces(matchers, everyday_families)
        for matcher in matchers:
            self.shifts[matcher] = shift
            plain = _rarest_pieces(matcher, used, everyday)
            for index, clauses in enumerate((plain, *matcher.needles[1:])):
                bit = 1 << (shift + index)
                if index:
                    self.folding |= bit
                if not clauses:
                    self.always |= bit
                    continue
                for number, clause in enumerate(clauses):
                    clause_bit = bit if number == 0 else 1 << total
                    if number:
                        self._needs[bit] = self._needs.get(bit, 0) | clause_bit
                        total += 1
                    for needle in clause:
                        run = max(_WORD.findall(needle), key=len, default="")
                        if needle.startswith(CASED):
                            owners, key = cased, needle[len(CASED) :]
                        elif needle.startswith(WHOLE):
                            owners, key = whole_words, needle[len(WHOLE) :]
                        elif run == needle or len(run) >= _WORD_NEEDLE:
                            owners, key = in_words, run
                        else:
                            owners, key = as_written, needle
                        owners[key] = owners.get(key, 0) | clause_bit
            shift += len(matcher.needles)
        self._conjunctive = _or(self._needs)
        # the scan finds the longest needle at each position: give it its prefixes' bits
        self._owners = {
            needle: _or(in_words.get(needle[:length], 0) for length in range(1, len(needle) + 1))
            for needle in in_words
        }
        tree: _Trie = {}
        for needle in in_words:
            _insert(tree, [*(re.escape(ch) for ch in needle), ""])
        self._scan = re.compile(f"(?=({_emit(tree)}))") if tree else None
        # needles looked for as they are, by a character of theirs: found by one scan for all,
        # in each run between spaces (remembered with its words) unless the needle holds a space
        self._marks = _by_mark({n: b for n, b in as_written.items() if not _has_space(n)})
        self._mark_scan = _any_of(self._marks)
        self._spaced_marks = _by_mark({n: b for n, b in as_written.items() if _has_space(n)})
        self._spaced_mark_scan = _any_of(self._spaced_marks)
        # case-sensitive needles, by their first character; in ASCII text those without a space
        # are looked for in each run between spaces as written too (and remembered with it)
        self._cased = _by_first(cased)
        self._cased_scan = _any_of(self._cased)
        self._cased_in_runs = _by_first({n: b for n, b in cased.items() if not _has_space(n)})
        self._cased_in_runs_scan = _any_of(self._cased_in_runs)
        self._spaced_cased = _by_first({n: b for n, b in cased.items() if _has_space(n)})
        self._spaced_cased_scan = _any_of(self._spaced_cased)
        self._whole_words = whole_words
        self._words = _WordBits(self._word_bits)
        self._written = _WordBits(self._written_bits)

    def possible(self, text: str, lowered: str) -> int:
        """The bits of the parts that may match the text (lower-cased by `lower`)."""
        if text.isascii():  # lower-cased run by run: each run as written tells all its needles
            ascii_only = True
            mask = self.always
            for bits in map(self._written.__getitem__, text.split()):
                mask |= bits
            if self._spaced_cased_scan is not None:
                mask |= _marked(self._spaced_cased_scan, self._spaced_cased, text)
        else:
            ascii_only = lowered.isascii()
            mask = self.always if ascii_only else self.always | self.folding
            for bits in map(self._words.__getitem__, lowered.split()):
                mask |= bits
            mask |= _marked(self._cased_scan, self._cased, text)
        if self._spaced_mark_scan is not None:
            mask |= _marked(self._spaced_mark_scan, self._spaced_marks, lowered)
        if ascii_only:
            pending = mask & self._conjunctive
            while pending:
                bit = pending & -pending
                pending ^= bit
                needs = self._needs[bit]
                if mask & needs != needs:
                    mask ^= bit
        return mask

    def _word_bits(self, run: str) -> int:
        """The bits of the needles in one run of text between spaces: a needle of word
        characters never reaches past its word, no word past its run, and no needle without a
        space past its run either."""
        bits = _marked(self._mark_scan, self._marks, run)
        if self._scan is not None:
            for needle in set(self._scan.findall(run)):
                bits |= self._owners[needle]
        for word in _WORD.findall(run):
            bits |= self._whole_words.get(word, 0)
        return bits

    def _written_bits(self, run: str) -> int:
        """The bits of the needles in one run of ASCII text as written (lower-cased, it is the
        run of the lower-cased text)."""
        return self._words[run.lower()] | _marked(self._cased_in_runs_scan, self._cased_in_runs, run)


def _by_first(needles: Mapping[str, int]) -> dict[str, list[tuple[str, int]]]:
    """Needles by their first character."""
    by_char: dict[str, list[tuple[str, int]]] = {}
    for needle, bits in needles.items():
        by_char.setdefault(needle[0], []).append((needle, bits))
    return by_char


def _has_space(needle: str) -> bool:
    """A space that `str.split` would cut the text at."""
    return any(ch.isspace() for ch in needle)


def _by_mark(needles: Mapping[str, int]) -> dict[str, list[tuple[str, int]]]:
    """Needles with punctuation, by their first character that is not a word character."""
    by_char: dict[str, list[tuple[str, int]]] = {}
    for needle, bits in needles.items():
        key = next(ch for ch in needle if not _WORD.match(ch))
        by_char.setdefault(key, []).append((needle, bits))
    return by_char


class _WordBits(dict[str, int]):
    """Each word's bits, worked out when the word is first met. It forgets every word when it
    holds too many (a reader in another thread then works its words out again)."""

    def __init__(self, bits_of: Callable[[str], int]) -> None:
        super().__init__()
        self._bits_of = bits_of

    def __missing__(self, word: str) -> int:
        if len(self) >= _WORDS_REMEMBERED:
            self.clear()
        bits = self[word] = self._bits_of(word)
        return bits


def _marked(scan: re.Pattern[str] | None, by_char: Mapping[str, list[tuple[str, int]]], text: str) -> int:
    """The bits of the needles in the text, looked for only when a character of theirs is."""
    bits = 0
    if scan is not None:
        for char in set(scan.findall(text)):
            for needle, needle_bits in by_char[char]:
                if needle in text:
                    bits |= needle_bits
    return bits


_WORD = re.compile(r"\w+")
_WORD_NEEDLE = 3  # shorter runs of word characters in a needle with punctuation: all of it
_WORDS_REMEMBERED = 20_000


def _everyday_pieces(matchers: Sequence[Matcher], families: Sequence[Matcher]) -> frozenset[str]:
    """The pieces of phrases that are, or are found by, the words of these families."""
    own = {piece for family in families for pieces in family.phrase_pieces for piece in pieces}
    pieces = {piece for matcher in matchers for phrase in matcher.phrase_pieces for piece in phrase}
    return frozenset(
        piece for piece in pieces if piece in own or any(family.find(piece) for family in families)
    )


def _rarest_pieces(matcher: Matcher, used: Counter[str], everyday: frozenset[str]) -> Clauses:
    """Each plain phrase's rarest piece; one its phrase keeps a whole word is looked for as one
    (`WHOLE`): "rt" is then not found in "artery"."""
    if not matcher.needles[0]:
        return ()
    needles = set()
    for pieces, whole in zip(matcher.phrase_pieces, matcher.whole_pieces, strict=True):
        piece = min(
            pieces, key=lambda piece: (len(piece) < _WORD_NEEDLE, piece in everyday, used[piece], -len(piece))
        )
        needles.add(WHOLE + piece if piece in whole else piece)
    return (frozenset(needles),)


def _any_of(chars: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern matching any one of the characters."""
    escaped = "".join(map(re.escape, chars))
    return re.compile(f"[{escaped}]") if escaped else None


def _or(bits: Iterable[int]) -> int:
    mask = 0
    for bit in bits:
        mask |= bit
    return mask


class Prepared:
    """One text, lower-cased once and screened once, searched for any number of families."""

    __slots__ = ("_mask", "_screen", "lowered", "text")

    def __init__(self, text: str, screen: Screen) -> None:
        self.text = text
        lowered = text.lower()  # `lower`, written out for the common case
        self.lowered = lowered if len(lowered) == len(text) else lower(text)
        self._screen = screen
        self._mask: int | None = None

    def _screened(self) -> int:
        """The bits of every family's parts the screen leaves possible in this text, found when
        first asked for (`find` reads them as ``mask >> shifts[matcher]``: a bit for each part
        of the family, as in `Matcher.needles`)."""
        mask = self._mask = self._screen.possible(self.text, self.lowered)
        return mask

    def _possible(self, matcher: Matcher) -> int:
        """The parts of the family the screen leaves possible in this text (a bit each)."""
        mask = self._mask if self._mask is not None else self._screened()
        return mask >> self._screen.shifts[matcher]

    def find(self, matcher: Matcher) -> list[Hit]:
        """`matcher.find(text)`, trying only the parts of the family the screen leaves possible."""
        # `_possible`, written out: the sentences of a report are asked for a family 170 times
        mask = self._mask if self._mask is not None else self._screened()
        possible = mask >> self._screen.shifts[matcher]
        if not possible & matcher.parts:
            return []
        if not possible & matcher._regex_parts:  # the prefix tree alone, as most often
            return matcher._plain_hits(self.text, self.lowered)
        return matcher.find_lowered(self.text, self.lowered, possible)

    def search_within(self, matcher: Matcher, start: int, end: int) -> list[Hit]:
        """`matcher.find(text[start:end])`, screened as the whole text: a needle missing from
        the text is missing from every piece of it, so a part ruled out stays ruled out."""
        possible = self._possible(matcher)
        if not possible & matcher.parts:
            return []
        piece = self.text[start:end]
        return matcher.find_lowered(piece, lower(piece), possible)


def anchored(phrases: Iterable[str], *, at_end: bool) -> re.Pattern[str]:
    """A pattern matching one of the phrases right at the start (or end) of a text."""
    alternatives = "|".join(f"(?:{phrase_pattern(p)})" for p in phrases) or r"(?!x)x"
    source = rf"(?:{alternatives})\W*$" if at_end else rf"^\W*(?:{alternatives})"
    return re.compile(source, re.IGNORECASE)


class EndAnchored:
    """`anchored(phrases, at_end=True)`, searched only when the text holds a needle of one of
    the phrases: the search tries every phrase at every character, and most texts (the words
    before a measurement) hold none. Needles hold in ASCII text only (see `Matcher.needles`)."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self._pattern = anchored(phrases, at_end=True)
        clauses = [regex_needles(phrase_pattern(phrase), re.IGNORECASE) for phrase in phrases]
        needles = {needle for phrase in clauses if phrase for needle in phrase[0]}
        usable = phrases and all(clauses) and not any(needle.startswith(CASED) for needle in needles)
        by_length = sorted(needles, key=len, reverse=True)
        self._needles = re.compile("|".join(map(re.escape, by_length))) if usable else None

    def search(self, text: str) -> re.Match[str] | None:
        if self._needles is not None and text.isascii() and self._needles.search(text.lower()) is None:
            return None
        return self._pattern.search(text)


class CompiledLexicons:
    """The artifact's lexicons as matchers, built lazily, one attribute per family."""

    def __init__(self, lexicons: Lexicons) -> None:
        self.lexicons = lexicons

    @cached_property
    def screen(self) -> Screen:
        """The needles of every family (building it compiles them all)."""
        families = [
            name
            for name, value in vars(CompiledLexicons).items()
            if isinstance(value, cached_property) and name != "screen"
        ]
        built = [getattr(self, name) for name in families]
        everyday = [self.finding, self.soft_tissue, self.sites, self.sides, self.lower_limb]
        return Screen([matcher for matcher in built if isinstance(matcher, Matcher)], everyday)

    def prepare(self, text: str) -> Prepared:
        return Prepared(text, self.screen)

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
    def size_not_before(self) -> EndAnchored:
        return EndAnchored(self.lexicons.sizes.not_size_before)

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
