"""The phrase matcher's shortcuts find exactly what the plain search finds."""

from __future__ import annotations

import pytest

from cds_service.clinical.report.matching import Hit, Matcher, _RegexGroup, compiled, lower
from tests.unit.report.conftest import LEXICONS

TEXTS = [
    "Calcification in the medial head of the gastrocnemius, deep to the fascia.",
    "gastrocnemius calcification; intramuscular deep calcific focus",
    "Deep soft tissue calcification within the soleus muscle and the vastus lateralis.",
    "Posterior tibialis tendon calcification (possible calcific tendinitis).",
    "Atherosclerotic calcification of the SFA, and arterial calcification of the popliteal artery.",
    "Infrapopliteal calcification of the tibial arteries; multiple phleboliths.",
    "Subgastrocnemius, nongastrocnemius and deeply seated focus; x-deep calcification",
    "Calcificationdeep, (deep) calcification, 'soleus' calcified vessels.",
    "Ｄeep calcification in the ſoleus, Kelvin K, é deep, ß soleus",
    "",
]


def _families() -> list[tuple[str, Matcher]]:
    lexicons = compiled(LEXICONS)
    assert lexicons.screen is not None  # building it builds every family
    return [(name, value) for name, value in vars(lexicons).items() if isinstance(value, Matcher)]


def _searched_everywhere(group: _RegexGroup, bits: int, searched: str, original: str) -> list[Hit]:
    """`_RegexGroup.hits` as written before its word-start scan: the alternation searched at
    every character, a match inside a word skipped."""
    combined, entries, _ = group._subset(bits)
    found = []
    position = 0
    while (match := combined.search(searched, position)) is not None:
        start, end = match.span()
        kinds = group._kinds(entries, searched, start, end) if end > start else frozenset()
        if kinds:
            found.append(Hit(start, end, kinds, original[start:end]))
            position = end
        else:
            position = start + 1
    return found


@pytest.mark.parametrize("name, family", _families())
def test_word_start_scan_finds_what_a_search_at_every_character_finds(name: str, family: Matcher) -> None:
    group = family._lower_regexes
    if not group.active:
        return
    subsets = {group._all} | {1 << index for index in range(len(group._entries))}
    for bits in subsets:
        combined, entries, after_non_word = group._subset(bits)
        if after_non_word is None:
            continue
        for text in TEXTS:
            for piece in (text, text[5:], text.upper()):
                lowered = lower(piece)
                expected = _searched_everywhere(group, bits, lowered, piece)
                found = group._word_start_hits(combined, after_non_word, entries, lowered, piece)
                assert found == expected, (name, bits, piece)


def test_muscle_names_are_scanned_at_word_starts_only() -> None:
    group = compiled(LEXICONS).depth._lower_regexes
    combined, entries, after_non_word = group._subset(group._all)
    assert after_non_word is not None
    text = "Calcification in the gastrocnemius; subgastrocnemius and deep soleus."
    hits = group._word_start_hits(combined, after_non_word, entries, lower(text), text)
    assert [hit.text for hit in hits] == ["gastrocnemius", "deep", "soleus"]
