"""Section text → sentences, the unit a mention is quoted in and an assertion cue reaches.

Reports wrap lines mid-sentence and also list findings one per line without full stops, so a
line break ends a sentence only when the line ended with punctuation or the next line starts
like a new item (capital letter, digit, bullet). Decimal points ("5.2 cm") and abbreviations
("approx.", "Lt.") never end one.
"""

from __future__ import annotations

import re
import string

_BULLET = re.compile(r"^\s*(?:[-*•·]+|\d{1,2}[.)](?!\d)|\(?[a-h]\)(?=\s))\s*")
_NEW_ITEM = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)](?!\d)|[A-Z0-9(\"'?])")
_END = (".", "!", "?", ";", ":")  # a line ending in one ends its paragraph
_BOUNDARY = re.compile(r"([.!?])(?=\s+[\"'(\[]?[A-Z0-9?])")
# `_BOUNDARY` for a paragraph without "!" or "?": the engine skips from one full stop to the next
# at once, where it tests each character against a class of three
_FULL_STOP_BOUNDARY = re.compile(r"(\.)(?=\s+[\"'(\[]?[A-Z0-9?])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LETTERS_AND_DOTS = string.ascii_letters + "."


def split_sentences(text: str, abbreviations: frozenset[str]) -> list[str]:
    """The sentences of one section's text, stripped, bullets removed, in order."""
    sentences: list[str] = []
    for paragraph in _paragraphs(text):
        sentences.extend(_split_paragraph(paragraph, abbreviations))
    return [s for s in map(" ".join, map(str.split, sentences)) if s]  # spaces made single


def _paragraphs(text: str) -> list[str]:
    paragraphs: list[str] = []
    current = ""
    for line in text.split("\n"):
        if not line.strip():
            paragraphs.append(current)
            current = ""
        elif current and (current.rstrip().endswith(_END) or _NEW_ITEM.match(line)):
            paragraphs.append(current)
            current = _BULLET.sub("", line, count=1)
        else:
            current = f"{current} {line.strip()}" if current else _BULLET.sub("", line, count=1)
    paragraphs.append(current)
    return [p for p in paragraphs if p.strip()]


def _split_paragraph(paragraph: str, abbreviations: frozenset[str]) -> list[str]:
    pieces: list[str] = []
    start = 0
    boundaries = _BOUNDARY if "?" in paragraph or "!" in paragraph else _FULL_STOP_BOUNDARY
    for boundary in boundaries.finditer(paragraph):
        end = boundary.end()
        # a full stop after no letter ("3 cm.", "(right).") ends no abbreviation
        if (
            boundary.group(1) == "."
            and paragraph[end - 2 : end - 1] in _LETTERS_AND_DOTS
            and _is_abbreviation(paragraph[start : boundary.start()], abbreviations)
        ):
            continue
        pieces.append(paragraph[start:end])
        start = end
    pieces.append(paragraph[start:])
    return pieces


def _is_abbreviation(before: str, abbreviations: frozenset[str]) -> bool:
    word = _last_word(before)
    if not word:
        return False
    token = word.lower().rstrip(".")
    return token in abbreviations or (len(token) == 1 and token.isalpha())


def _last_word(before: str) -> str | None:
    """What `_WORD_BEFORE` finds: the letters and dots ending the text, from the first letter.
    Stripped off the end: searching forwards tries, and gives up on, every word of the text."""
    if before.endswith("\n"):  # "$" may also match before that newline
        word = _WORD_BEFORE.search(before)
        return word.group(1) if word else None
    return before[len(before.rstrip(_LETTERS_AND_DOTS)) :].lstrip(".")
