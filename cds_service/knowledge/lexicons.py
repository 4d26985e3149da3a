"""Schema of the report-reading lexicons (the words radiologists use), part of the artifact.

Every trigger word the report reader uses lives here, so that clinical governance can review
and extend the vocabulary without a code change. A lexicon entry is a *phrase*:

- words separated by spaces match any run of spaces or hyphens (``soft tissue`` also matches
  ``soft-tissue``); a hyphen inside a word is optional (``tram-track`` matches ``tramtrack``);
- a trailing ``*`` lets the last word continue (``calcif*`` matches calcific, calcifications);
- matching is case-insensitive and on whole words;
- an entry starting with ``re:`` is a Python regular expression, for the few cues that need
  look-arounds (``(?-i:...)`` makes part of it case-sensitive, e.g. ``L``/``R`` before a limb).

The schema is strict (unknown keys are errors) so that a misspelt section in a
governance-approved copy stops start-up instead of silently disabling a cue.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

REGEX_PREFIX = "re:"


def phrase_pattern(phrase: str) -> str:
    """The regular expression (source) that one lexicon phrase stands for."""
    if phrase.startswith(REGEX_PREFIX):
        return phrase[len(REGEX_PREFIX) :]
    if not any(ch.isalnum() for ch in phrase):
        return _punctuation_pattern(phrase)
    parts = []
    for word in phrase.split():
        continues = word.endswith("*") and len(word) > 1
        body = word[:-1] if continues else word
        pattern = r"[\s\-]?".join(re.escape(piece) for piece in body.split("-"))
        parts.append(pattern + (r"\w*" if continues else ""))
    source = r"[\s\-]+".join(parts)
    stripped = phrase.rstrip("*")
    lead = r"(?<!\w)" if phrase[:1].isalnum() else ""
    trail = r"(?!\w)" if stripped[-1:].isalnum() else ""
    return lead + source + trail


def _punctuation_pattern(phrase: str) -> str:
    """Punctuation cues (a semicolon, a spaced dash): spaces in the entry must be in the text."""
    lead = r"(?<=\s)" if phrase[:1].isspace() else ""
    trail = r"(?=\s)" if phrase[-1:].isspace() else ""
    return lead + re.escape(phrase.strip()) + trail


def _valid_phrase(phrase: str) -> str:
    if not phrase.strip():
        raise ValueError("empty phrase")
    try:
        re.compile(phrase_pattern(phrase), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"phrase {phrase!r} is not a valid pattern: {exc}") from None
    return phrase


Phrase = Annotated[str, AfterValidator(_valid_phrase)]
Phrases = list[Phrase]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindingWords(_Strict):
    """Words naming soft-tissue calcification, grouped by the nature they state (§6.35)."""

    calcific: Phrases
    ossific: Phrases
    mineral: Phrases
    not_finding: Phrases = []  # spans using these words about something else (bone density)
    outside_soft_tissue: Phrases = []  # a sentence placing the calcification in bone or a viscus
    soft_tissue: Phrases = []  # ...unless it also says soft tissue


class CodedFinding(_Strict):
    """A SNOMED finding code read from conclusionCode or a coded result (§2)."""

    code: str
    display: str
    entity: Name | None = None  # the benign entity the code names, if any


class AssertionCues(_Strict):
    """NegEx/ConText cues. `*_before` reach forward to the target, `*_after` back to it."""

    negated_before: Phrases
    negated_after: Phrases
    possible_before: Phrases
    possible_after: Phrases
    resolved_before: Phrases
    resolved_after: Phrases
    pseudo: Phrases  # look like cues but are not ("no change", "not only")
    terminators: Phrases  # end a clause for cues in both directions ("but", ";")
    terminators_before: Phrases  # end the reach of a preceding cue only ("there is")
    comma_continuations: Phrases  # a comma followed by these does not end an after-cue's reach
    question_mark: Phrase = "?"


class SectionNames(_Strict):
    """Section labels and their synonyms (§6.31); ADDENDUM takes any suffix."""

    history: Phrases
    exam: Phrases
    technique: Phrases
    comparison: Phrases
    findings: Phrases
    impression: Phrases
    addendum: Phrases
    recommendation: Phrases


class SizeWords(_Strict):
    """What makes a measurement a distance or another structure's size, not the lesion's."""

    not_size_after: Phrases  # "3 cm proximal to the joint"
    not_size_before: Phrases  # "joint space narrowed to 2 mm"


class DepthWords(_Strict):
    """Depth words, each under the location name it states (§2, §6.5)."""

    deep: dict[Name, Phrases]
    superficial: dict[Name, Phrases]


class SideWords(_Strict):
    left: Phrases
    right: Phrases
    bilateral: Phrases
    qualifies_other: Phrases  # a side followed by these describes the exam or another finding


class PatternWords(_Strict):
    benign: dict[Name, Phrases]
    concerning: dict[Name, Phrases]


class MassWords(_Strict):
    terms: Phrases
    not_mass: Phrases  # "mass effect", "muscle mass"


class PainWords(_Strict):
    """§6.25: pain or tenderness together with a focal lump."""

    pain: Phrases
    lump: Phrases
    focal_swelling: Phrases  # swelling called focal, palpable, firm or hard
    swelling: Phrases  # any swelling (a lump only when focal, never beside an injury)


class MultiplicityWords(_Strict):
    """§6.14/§6.26: words about the calcification itself."""

    before: Phrases  # "multiple", "several", "two", "3"
    after: Phrases  # "are multiple", "are numerous"
    blockers: Phrases  # words that show a multiplicity word qualifies something else


class MalignancyWords(_Strict):
    """§6.3, §6.16, §6.30."""

    terms: Phrases
    benign_qualifiers: Phrases  # "benign" before a tumour word
    not_suspicion: Phrases  # team names, protocol names, "metastatic calcification"


class BenignEntity(_Strict):
    """A specific benign entity (type B, §2) and what is intrinsic to it (§6.5, §6.24)."""

    name: Name
    terms: Phrases
    location: Name | None = None  # the location it implies (vascular, intratendinous, ...)
    intrinsic_locations: list[Name] = []  # depth locations that are not red flags for it
    intrinsic_patterns: list[Name] = []  # concerning patterns that are its usual look
    needs_history: list[Name] = []  # type B only with one of these history clues
    counts_as_finding: bool = True  # naming it mentions the finding (phlebolith, HADD)


class Site(_Strict):
    """An anatomical site, for telling one lesion from another (§6.33)."""

    name: Name
    terms: Phrases
    within: list[Name] = []


class ScopeWords(_Strict):
    """§1, §6.19, §6.22, §6.23, design.md decision 3."""

    radiology_categories: list[str]  # category codes (RAD, LP29684-5, imaging)
    radiology_category_words: Phrases  # category text
    evaluated_statuses: list[str]
    exam_words: Phrases  # words that make a first line name the exam
    lower_limb: Phrases
    lower_limb_body_sites: list[str]  # SNOMED codes


class Lexicons(_Strict):
    finding: FindingWords
    coded_findings: list[CodedFinding]
    coded_absent: list[str] = []  # value codes saying a coded finding is absent
    assertion: AssertionCues
    sections: SectionNames
    abbreviations: list[str]  # words ending with a dot that do not end a sentence
    sizes: SizeWords
    depth: DepthWords
    laterality: SideWords
    locations: dict[Name, Phrases]
    patterns: PatternWords
    mass: MassWords
    bone_involvement: Phrases
    growth: Phrases
    pain: PainWords
    multiplicity: MultiplicityWords
    history: dict[Name, Phrases]
    malignancy: MalignancyWords
    benign_entities: list[BenignEntity]
    separate_lesion: Phrases  # "separately", "additional", "non-specific" (§6.20)
    sites: list[Site]
    scope: ScopeWords

    @model_validator(mode="after")
    def _references_resolve(self) -> Lexicons:
        """Names that refer to other entries must exist, or a cue would silently never apply."""
        entity_names = [entity.name for entity in self.benign_entities]
        if len(set(entity_names)) != len(entity_names):
            raise ValueError("benign_entities: names must be unique")
        site_names = {site.name for site in self.sites}
        for site in self.sites:
            unknown = set(site.within) - site_names
            if unknown:
                raise ValueError(f"sites.{site.name}.within: unknown site(s) {sorted(unknown)}")
        depth_names = set(self.depth.deep) | set(self.depth.superficial)
        location_names = set(self.locations) | depth_names
        for entity in self.benign_entities:
            _require_known(entity.intrinsic_locations, depth_names | location_names, entity.name)
            _require_known(entity.intrinsic_patterns, set(self.patterns.concerning), entity.name)
            _require_known(entity.needs_history, set(self.history), entity.name)
        for coded in self.coded_findings:
            if coded.entity is not None and coded.entity not in entity_names:
                raise ValueError(f"coded_findings {coded.code}: unknown entity '{coded.entity}'")
        return self


def _require_known(names: list[str], known: set[str], entity: str) -> None:
    unknown = set(names) - known
    if unknown:
        raise ValueError(f"benign_entities.{entity}: unknown name(s) {sorted(unknown)}")
