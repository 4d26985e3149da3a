"""Mentions of the finding, grouped into lesions, and the report's finding type (§2, §6.4, §6.20).

A *lesion* is one mention of soft-tissue calcification with what the report says about it:
its assertion, the benign entity it was identified as, its sites and side. The finding type
follows the lesions: every counting lesion identified as a specific benign entity → type B;
any lesion the report keeps apart (another site, "separately", "non-specific") → type N (§6.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cds_service.clinical.evaluation import Assertion, FindingType, Laterality, Mention
from cds_service.clinical.report.assertion import Judgement
from cds_service.clinical.report.document import Sentence
from cds_service.clinical.report.matching import CompiledLexicons, Hit
from cds_service.clinical.report.text import SOURCE_TRUST, CodedFinding

OSSIFICATION_HISTORY = frozenset({"trauma", "fracture", "surgery"})


@dataclass(slots=True)
class Lesion:
    """One mention of the finding and what the report says about that lesion (never changed
    once made: `identified_as` and `placed_at` make another; not frozen, as `Hit`)."""

    sentence: Sentence | None  # None for a coded finding
    hit: Hit | None
    nature: str  # calcific, ossific, mineral (§6.35)
    judgement: Judgement
    entity: str | None  # the benign entity it was identified as (§6.20)
    sites: frozenset[str]
    side: Laterality
    kept_apart: bool  # "separately", "additional", "non-specific" (§6.20)
    source: str
    section: str
    coded_display: str | None = None

    @property
    def counts(self) -> bool:
        return self.judgement.counts

    @property
    def clause(self) -> tuple[int, int]:
        assert self.sentence is not None and self.hit is not None
        return self.sentence.clause_of(self.hit)

    @property
    def text(self) -> str:
        """The sentence it is mentioned in, or the coded finding's display."""
        return self.sentence.text if self.sentence is not None else self.coded_display or ""

    def identified_as(self, entity: str | None) -> Lesion:
        """This lesion, as the benign entity another mention names (§6.20)."""
        return self._with(entity, self.sites)

    def placed_at(self, sites: frozenset[str]) -> Lesion:
        """This lesion, at the sites of its entity's other lesions (§6.33)."""
        return self._with(self.entity, sites)

    def _with(self, entity: str | None, sites: frozenset[str]) -> Lesion:
        """A copy written out field by field: `dataclasses.replace` costs three times as much."""
        return Lesion(
            sentence=self.sentence,
            hit=self.hit,
            nature=self.nature,
            judgement=self.judgement,
            entity=entity,
            sites=sites,
            side=self.side,
            kept_apart=self.kept_apart,
            source=self.source,
            section=self.section,
            coded_display=self.coded_display,
        )

    def mention(self) -> Mention:
        return Mention(
            text=self.text,
            section=self.section,
            source=self.source,
            assertion=self.judgement.assertion,
            cue=self.judgement.cue,
        )


# ---------------------------------------------------------------- finding lesions in text


def sentence_lesions(sentence: Sentence, lexicons: CompiledLexicons) -> list[Lesion]:
    """The lesions one FINDINGS/IMPRESSION/ADDENDUM sentence mentions, in order."""
    targets = _targets(sentence, lexicons)
    lesions = []
    for index, (hit, nature, entity_hit) in enumerate(targets):
        window = (
            targets[index - 1][0].end if index else 0,
            targets[index + 1][0].start if index + 1 < len(targets) else len(sentence.text),
        )
        clause = sentence.clause_of(hit)
        bounds = (max(window[0], clause[0]), min(window[1], clause[1]))
        sites = frozenset(s.kind for s in sentence.within(sentence.sites, bounds))
        lesions.append(
            Lesion(
                sentence=sentence,
                hit=hit,
                nature=nature,
                judgement=sentence.judge(hit),
                entity=_own_entity(entity_hit, sentence),
                sites=sites,
                side=lesion_side(sentence, clause, lexicons),
                kept_apart=bool(sentence.within(sentence.separate, window)),
                source=sentence.source,
                section=sentence.section,
            )
        )
    return _identify_within_sentence(lesions, sentence)


def _targets(sentence: Sentence, lexicons: CompiledLexicons) -> list[tuple[Hit, str, Hit | None]]:
    """Finding words and entity names, an entity name absorbing the finding word inside it."""
    entity_hits = [e for e in sentence.entity_hits if lexicons.entity_by_name[e.kind].counts_as_finding]
    targets: list[tuple[Hit, str, Hit | None]] = []
    for entity in entity_hits:
        inner = [f for f in sentence.finding_hits if f.overlaps(entity.start, entity.end)]
        nature = inner[0].kind if inner else _entity_nature(entity, sentence, lexicons)
        targets.append((entity, nature, entity))
    for finding in sentence.finding_hits:
        if not any(finding.overlaps(e.start, e.end) for e in entity_hits):
            targets.append((finding, finding.kind, None))
    return sorted(targets, key=lambda target: target[0].start)


def _entity_nature(entity: Hit, sentence: Sentence, lexicons: CompiledLexicons) -> str:
    """What the entity's own name says it is ("myositis ossificans"), else calcific."""
    found = sentence.prepared.search_within(lexicons.finding, entity.start, entity.end)
    return found[0].kind if found else "calcific"


def _own_entity(entity_hit: Hit | None, sentence: Sentence) -> str | None:
    if entity_hit is None or not sentence.judge(entity_hit).counts:
        return None
    return entity_hit.kind


def _identify_within_sentence(lesions: list[Lesion], sentence: Sentence) -> list[Lesion]:
    """§6.20: "small rounded densities, likely phleboliths" — the entity named in the sentence."""
    named = [lesion for lesion in lesions if lesion.entity is not None]
    if not named:
        return lesions
    identified = []
    for lesion in lesions:
        if lesion.entity is None and not lesion.kept_apart:
            same = next((n for n in named if same_lesion_place(lesion, n, sentence.lx)), None)
            lesion = lesion.identified_as(same.entity) if same is not None else lesion
        identified.append(lesion)
    return identified


def lesion_side(sentence: Sentence, clause: tuple[int, int], lexicons: CompiledLexicons) -> Laterality:
    """The side words of the clause that describe this calcification (§6.15, §6.26, §6.32)."""
    sides = set()
    for hit in sentence.within(sentence.sides, clause):
        if lexicons.side_qualifies_other.match(sentence.text[hit.end : hit.end + 60]):
            continue  # "bilateral knee osteoarthritis", "left knee radiographs"
        if sentence.judge(hit).counts:
            sides.add(hit.kind)
    if not sides and sentence.label:
        sides = {hit.kind for hit in sentence.label_sides}
    return combine_sides(sides)


def combine_sides(sides: Iterable[str]) -> Laterality:
    found = set(sides)
    if "bilateral" in found or {"left", "right"} <= found:
        return Laterality.BILATERAL
    if found == {"left"}:
        return Laterality.LEFT
    if found == {"right"}:
        return Laterality.RIGHT
    return Laterality.UNKNOWN


def same_lesion_place(first: Lesion, second: Lesion, lexicons: CompiledLexicons) -> bool:
    """§6.33: different sites when neither names the other's site or a site inside it."""
    if (
        Laterality.UNKNOWN not in (first.side, second.side)
        and Laterality.BILATERAL not in (first.side, second.side)
        and first.side is not second.side
    ):
        return False
    if not first.sites or not second.sites:
        return True
    parents = lexicons.site_parents
    return any(
        a == b or a in parents.get(b, ()) or b in parents.get(a, ())
        for a in first.sites
        for b in second.sites
    )


# ---------------------------------------------------------------- coded lesions


def coded_lesions(coded: Sequence[CodedFinding]) -> list[Lesion]:
    """conclusionCode and coded results: present (or absent) with unknown depth and site (§6.5)."""
    return [
        Lesion(
            sentence=None,
            hit=None,
            nature="ossific"
            if item.entity in ("heterotopic-ossification", "myositis-ossificans")
            else "calcific",
            judgement=Judgement(Assertion.PRESENT if item.present else Assertion.NEGATED),
            entity=item.entity,
            sites=frozenset(),
            side=Laterality.UNKNOWN,
            kept_apart=False,
            source=item.source,
            section="CODED",
            coded_display=f"{item.display} (SNOMED {item.code})",
        )
        for item in coded
    ]


# ---------------------------------------------------------------- the report's verdict


def identify_across_report(lesions: list[Lesion], lexicons: CompiledLexicons) -> list[Lesion]:
    """§6.20: the IMPRESSION naming the lesion the FINDINGS describe makes it that entity.

    An entity named without a site ("Vascular calcification.") stands for the lesions of that
    entity the report placed ("calcified femoral artery"), so it is compared by their sites (§6.33).
    """
    named = _identifying([lesion for lesion in lesions if lesion.entity is not None and lesion.counts])
    if not named:
        return lesions
    result = []
    for lesion in lesions:
        if lesion.entity is None and lesion.counts and not lesion.kept_apart:
            same = next((n for n in named if same_lesion_place(lesion, n, lexicons)), None)
            if same is not None:
                lesion = lesion.identified_as(same.entity)
        result.append(lesion)
    return result


def _identifying(named: list[Lesion]) -> list[Lesion]:
    """The entity lesions that may name another lesion, an unplaced one taking its entity's sites."""
    placed: dict[str, list[Lesion]] = {}
    for lesion in named:
        if lesion.sites and lesion.entity:
            placed.setdefault(lesion.entity, []).append(lesion)
    result = []
    for lesion in named:
        others = [p for p in placed.get(lesion.entity or "", []) if not p.kept_apart]
        if lesion.kept_apart or (not lesion.sites and placed.get(lesion.entity or "") and not others):
            continue  # the report set this entity apart from the other lesions
        if not lesion.sites and others:
            lesion = lesion.placed_at(frozenset().union(*(p.sites for p in others)))
        result.append(lesion)
    return result


def finding_counts(lesions: Sequence[Lesion]) -> bool:
    """At least one counting mention; an ADDENDUM decides when it speaks (§6.18, §6.38);
    otherwise contradicting sources are settled by §2's order of trust."""
    addendum = [lesion for lesion in lesions if lesion.section == "ADDENDUM"]
    if addendum:
        return any(lesion.counts for lesion in addendum)
    for source in SOURCE_TRUST:
        from_source = [lesion for lesion in lesions if lesion.source == source]
        if from_source:
            return any(lesion.counts for lesion in from_source)
    return False


def effective_lesions(lesions: Sequence[Lesion]) -> list[Lesion]:
    """The counting lesions the report stands by (after the addendum's word)."""
    if not finding_counts(lesions):
        return []
    return [lesion for lesion in lesions if lesion.counts]


def finding_type(
    lesions: Sequence[Lesion], history: frozenset[str], lexicons: CompiledLexicons
) -> tuple[FindingType | None, bool]:
    """(type, ossification_needs_history): type B only when every lesion is a benign entity
    and an ossification entity has its trauma/surgery history (§2, §6.4, §6.34)."""
    if not lesions:
        return None, False
    if any(lesion.entity is None for lesion in lesions):
        return FindingType.NON_SPECIFIC, False
    missing_history = [
        lesion
        for lesion in lesions
        if (needs := lexicons.entity_by_name[lesion.entity or ""].needs_history) and not set(needs) & history
    ]
    if missing_history:
        return FindingType.NON_SPECIFIC, True
    return FindingType.SPECIFIC_BENIGN, False


def mentions(lesions: Sequence[Lesion]) -> tuple[Mention, ...]:
    """One mention per sentence and assertion, in report order, duplicates across sources dropped."""
    seen: set[tuple[str, Assertion]] = set()
    found = []
    for lesion in lesions:
        key = (" ".join(lesion.text.lower().split()), lesion.judgement.assertion)
        if key not in seen:
            seen.add(key)
            found.append(lesion.mention())
    return tuple(found)


__all__ = ["OSSIFICATION_HISTORY", "Lesion"]
