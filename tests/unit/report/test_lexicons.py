"""The lexicon schema is strict: a misspelt key or a broken pattern stops start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cds_service.knowledge.lexicons import Lexicons, phrase_pattern
from tests.unit.report.conftest import LEXICONS


def test_unknown_key_is_refused() -> None:
    data = LEXICONS.model_dump()
    data["negations"] = ["no"]
    with pytest.raises(ValidationError):
        Lexicons.model_validate(data)


def test_broken_regex_is_refused() -> None:
    data = LEXICONS.model_dump()
    data["growth"] = ["re:(unclosed"]
    with pytest.raises(ValidationError, match="not a valid pattern"):
        Lexicons.model_validate(data)


def test_unknown_entity_reference_is_refused() -> None:
    data = LEXICONS.model_dump()
    data["coded_findings"][0]["entity"] = "no-such-entity"
    with pytest.raises(ValidationError, match="unknown entity"):
        Lexicons.model_validate(data)


@pytest.mark.parametrize(
    ("phrase", "text", "matches"),
    [
        ("soft tissue", "soft-tissue", True),
        ("tram-track", "tramtrack", True),
        ("calcif*", "calcifications", True),
        ("calcif*", "decalcified", False),
        ("no", "none", False),
    ],
    ids=["spaces match hyphens", "hyphen optional", "star continues", "whole words", "no partial words"],
)
def test_phrase_syntax(phrase: str, text: str, matches: bool) -> None:
    import re

    assert bool(re.search(phrase_pattern(phrase), text, re.IGNORECASE)) is matches
