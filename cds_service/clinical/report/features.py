"""Report-level features (§2 table), each after assertion (§6.2), aggregated across sentences.

Descriptors of the lesion (size, depth, pattern, location, side, growth, multiplicity) are read
in the clause of a counting mention of the finding or of a mass, so that "2 mm joint space" or
"bilateral knee osteoarthritis" never describe the calcification. Report-wide clues (mass, bone
involvement, malignancy) are read in every sentence that may carry the finding; history in every
section (§6.29, §6.34).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from cds_service.clinical.evaluation import Depth, Laterality, ReportFeatures
from cds_service.clinical.report.document import Sentence
from cds_service.clinical.report.findings import Lesion, combine_sides
from cds_service.clinical.report.matching import CompiledLexicons, Hit

_NOT_HISTORY_SECTIONS = frozenset({"COMPARISON", "TECHNIQUE", "EXAM", "RECOMMENDATION"})
_NOT_PAIN_SECTIONS = frozenset({"COMPARISON", "TECHNIQUE", "EXAM"})
_ANAPHORA = (
    "it ",
    "this ",
    "these ",
    "they ",
    "the lesion",
    "the focus",
    "the mass",
    "the calcification",
    "the density",
    "measures",
    "measuring",
    "it measures",
)
_MULTIPLICITY_WORDS_BEFORE = 4


@dataclass
class Evidence:
    """(feature, sentence) pairs, each pair once, in the order found."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def add(self, feature: str, sentence: Sentence) -> None:
        pair = (feature, sentence.text)
        if pair not in self._seen:
            self._seen.add(pair)
            self.pairs.append(pair)


@dataclass(slots=True)
class Described:
    """A counting lesion or mass, and the clause of its sentence that describes it (never
    changed once made; not frozen, as `Hit`)."""

    sentence: Sentence
    clause: tuple[int, int]
    lesion: Lesion | None  # None for a mass


def read_features(
    sentences: Sequence[Sentence],
    lesions: Sequence[Lesion],
    exam_side: Laterality,
    lexicons: CompiledLexicons,
) -> ReportFeatures:
    """All §2 features; `lesions` are the counting lesions the report stands by."""
    evidence = Evidence()
    for lesion in lesions:
        if lesion.sentence is not None:
            evidence.add("finding", lesion.sentence)
    finding_sentences = [s for s in sentences if s.carries_finding]
    masses = _counting(finding_sentences, attrgetter("mass"), "associated mass", evidence)
    described = _described(lesions, finding_sentences)
    depth = _depth(described, lexicons, evidence)
    history = read_history(sentences, evidence)
    size = _size(described, finding_sentences, evidence)
    patterns = _patterns(described, lexicons, evidence)
    return ReportFeatures(
        size_cm=size,
        depth=depth,
        laterality=_finding_side(lesions, exam_side),
        exam_laterality=exam_side,
        locations=_locations(described, bool(masses)),
        benign_patterns=patterns["benign"],
        concerning_patterns=patterns["concerning"],
        associated_mass=bool(masses),
        bone_involvement=bool(
            _counting(finding_sentences, attrgetter("bone_involvement"), "bone involvement", evidence)
        ),
        growth=_growth(described, evidence),
        painful_mass=_painful_mass(sentences, evidence),
        multiplicity=_multiplicity(lesions, lexicons, evidence),
        suspected_malignancy=_malignancy(finding_sentences, lexicons, evidence),
        nature_unclear=_nature_unclear(lesions),
        history=history,
        evidence=tuple(evidence.pairs),
    )


def _counting(
    sentences: Iterable[Sentence], family: Callable[[Sentence], list[Hit]], feature: str, evidence: Evidence
) -> list[Hit]:
    """Every counting hit of one family (present or possible, §6.2)."""
    found = []
    for sentence in sentences:
        for hit in family(sentence):
            if sentence.judge(hit).counts:
                found.append(hit)
                evidence.add(feature, sentence)
    return found


def _described(lesions: Sequence[Lesion], sentences: Sequence[Sentence]) -> list[Described]:
    described = [
        Described(lesion.sentence, lesion.clause, lesion) for lesion in lesions if lesion.sentence is not None
    ]
    for sentence in sentences:
        for mass in sentence.mass:
            if sentence.judge(mass).counts:
                described.append(
                    Described(sentence, sentence.clause_of(mass), _owner(mass, sentence, lesions))
                )
    return described


def _owner(mass: Hit, sentence: Sentence, lesions: Sequence[Lesion]) -> Lesion | None:
    """The lesion whose clause holds the mass: a "calcified mass" is that lesion (§6.20)."""
    for lesion in lesions:
        if lesion.sentence is sentence and lesion.clause[0] <= mass.start and mass.end <= lesion.clause[1]:
            return lesion
    return None


# ---------------------------------------------------------------- descriptors of the lesion


def _size(described: Sequence[Described], sentences: Sequence[Sentence], evidence: Evidence) -> float | None:
    """Largest dimension of the calcification or its mass, in cm (§2, §6.32)."""
    largest: float | None = None
    for item in described:
        for size in item.sentence.sizes:
            if item.clause[0] <= size.start and size.end <= item.clause[1]:
                largest = max(largest or 0.0, size.cm)
                evidence.add(f"size {size.text}", item.sentence)
    described_orders = {item.sentence.order for item in described}
    for sentence in sentences:
        if sentence.order - 1 in described_orders and _refers_back(sentence):
            for size in sentence.sizes:
                largest = max(largest or 0.0, size.cm)
                evidence.add(f"size {size.text}", sentence)
    return largest


def _refers_back(sentence: Sentence) -> bool:
    """A sentence like `It measures 6 cm.` right after the one naming the lesion."""
    lowered = sentence.text.lower()
    return not sentence.finding_hits and not sentence.mass and lowered.startswith(_ANAPHORA)


def _depth(described: Sequence[Described], lexicons: CompiledLexicons, evidence: Evidence) -> Depth:
    """Deep wins over superficial; a benign entity's own location is not deep (§6.5, §6.20)."""
    deep = superficial = False
    for item in described:
        intrinsic = _intrinsic(item.lesion, lexicons, "locations")
        for hit in item.sentence.within(item.sentence.depth, item.clause):
            level, location = hit.kind.split(":", 1)
            if location in intrinsic or not item.sentence.judge(hit).counts:
                continue
            deep = deep or level == "deep"
            superficial = superficial or level == "superficial"
            evidence.add(f"{level} ({hit.text})", item.sentence)
    if deep:
        return Depth.DEEP
    return Depth.SUPERFICIAL if superficial else Depth.UNKNOWN


def _intrinsic(lesion: Lesion | None, lexicons: CompiledLexicons, what: str) -> Collection[str]:
    if lesion is None or lesion.entity is None:
        return ()
    entity = lexicons.entity_by_name[lesion.entity]
    return entity.intrinsic_locations if what == "locations" else entity.intrinsic_patterns


def _locations(described: Sequence[Described], mass: bool) -> frozenset[str]:
    found: set[str] = set()
    for item in described:
        if item.lesion is not None and item.lesion.entity is not None:
            entity = item.sentence.lx.entity_by_name[item.lesion.entity]
            if entity.location:
                found.add(entity.location)
        for hit in item.sentence.within(item.sentence.locations, item.clause):
            if item.sentence.judge(hit).counts:
                found |= hit.kinds
    if mass:
        found.add("soft-tissue-mass")
    if not found and described:
        found.add("other-soft-tissue")
    return frozenset(found)


def _patterns(
    described: Sequence[Described], lexicons: CompiledLexicons, evidence: Evidence
) -> dict[str, frozenset[str]]:
    """Benign and concerning patterns describing the lesion, read in one pass (the evidence of
    the benign ones first); an entity's usual look is not concerning (§6.24)."""
    found: dict[str, set[str]] = {"benign": set(), "concerning": set()}
    said: dict[str, list[tuple[str, Sentence]]] = {"benign": [], "concerning": []}
    for item in described:
        intrinsic = _intrinsic(item.lesion, lexicons, "patterns")
        for hit in item.sentence.within(item.sentence.patterns, item.clause):
            for kind in sorted(hit.kinds):
                level, name = kind.split(":", 1)
                if level in found and name not in intrinsic and item.sentence.judge(hit).counts:
                    found[level].add(name)
                    said[level].append((f"{level} pattern {name}", item.sentence))
    for group in ("benign", "concerning"):
        for feature, sentence in said[group]:
            evidence.add(feature, sentence)
    return {group: frozenset(names) for group, names in found.items()}


def _growth(described: Sequence[Described], evidence: Evidence) -> bool:
    """Growth words such as enlarging or increased in size; "not increasing" negates (§6.21)."""
    grew = False
    for item in described:
        for hit in item.sentence.within(item.sentence.growth, item.clause):
            if item.sentence.judge(hit).counts:
                grew = True
                evidence.add("growth", item.sentence)
    return grew


def _finding_side(lesions: Sequence[Lesion], exam_side: Laterality) -> Laterality:
    """The finding's side wins; without one, the exam's side (§6.9, §6.15)."""
    sides = {lesion.side.value for lesion in lesions if lesion.side is not Laterality.UNKNOWN}
    side = combine_sides(sides)
    return side if side is not Laterality.UNKNOWN else exam_side


def _multiplicity(lesions: Sequence[Lesion], lexicons: CompiledLexicons, evidence: Evidence) -> bool:
    """Words about the calcification itself; plural benign entities are not it (§6.14, §6.26)."""
    non_specific = [lesion for lesion in lesions if lesion.entity is None]
    sides = set()
    for lesion in non_specific:
        if lesion.side is not Laterality.UNKNOWN:
            sides.add(lesion.side.value)
        if lesion.sentence is not None and _counted_as_several(lesion, lexicons):
            evidence.add("multiplicity", lesion.sentence)
            return True
    return combine_sides(sides) is Laterality.BILATERAL


def _counted_as_several(lesion: Lesion, lexicons: CompiledLexicons) -> bool:
    sentence, hit = lesion.sentence, lesion.hit
    assert sentence is not None and hit is not None
    low, high = lesion.clause
    if lesion.side is Laterality.BILATERAL:
        return True
    within = sentence.prepared.search_within
    for cue in within(lexicons.multiplicity_before, low, hit.start):
        between = sentence.text[low + cue.end : hit.start]
        if len(between.split()) < _MULTIPLICITY_WORDS_BEFORE and not within(
            lexicons.multiplicity_blockers, low + cue.end, hit.start
        ):
            return True
    return bool(within(lexicons.multiplicity_after, hit.end, high))


def _nature_unclear(lesions: Sequence[Lesion]) -> bool:
    """§6.35: ossific, both, mineralised without saying which, or a "?" on its nature."""
    natures = {lesion.nature for lesion in lesions}
    if "ossific" in natures:
        return True
    if "mineral" in natures and "calcific" not in natures:
        return True
    return any(lesion.judgement.cue == "?" for lesion in lesions)


# ---------------------------------------------------------------- report-wide clues


def _malignancy(sentences: Sequence[Sentence], lexicons: CompiledLexicons, evidence: Evidence) -> bool:
    """§6.3: the radiologist naming a malignancy as present or possible — not a benign tumour
    (§6.16), a team or protocol name, or "metastatic calcification" (§6.30)."""
    suspected = False
    for sentence in sentences:
        for hit in sentence.malignancy:
            before = sentence.text[max(0, hit.start - 40) : hit.start]
            if lexicons.benign_qualifier.search(" ".join(before.split()[-3:])):
                continue
            if sentence.judge(hit).counts:
                suspected = True
                evidence.add("suspected malignancy", sentence)
    return suspected


def read_history(sentences: Sequence[Sentence], evidence: Evidence) -> frozenset[str]:
    """History clues named anywhere in the report but comparison/technique (§6.29, §6.34)."""
    found: set[str] = set()
    for sentence in sentences:
        if sentence.section in _NOT_HISTORY_SECTIONS:
            continue
        for hit in sentence.history:
            if sentence.judge(hit).counts:
                found |= hit.kinds
                for kind in sorted(hit.kinds):
                    evidence.add(f"history {kind}", sentence)
    return frozenset(found)


def _painful_mass(sentences: Sequence[Sentence], evidence: Evidence) -> bool:
    """§6.25: pain with a focal lump in one sentence, or anywhere in the indication."""
    indication_pain = indication_lump = False
    injury = any(
        sentence.judge(hit).counts and hit.kinds & {"trauma", "fracture"}
        for sentence in sentences
        if sentence.section == "HISTORY"
        for hit in sentence.history
    )
    for sentence in sentences:
        if sentence.section in _NOT_PAIN_SECTIONS:
            continue
        counting = {kind for hit in sentence.pain if sentence.judge(hit).counts for kind in hit.kinds}
        pain = "pain" in counting
        lump = bool(counting & {"lump", "focal-swelling"})
        if sentence.section == "HISTORY":
            lump = "lump" in counting or ("focal-swelling" in counting and not injury)
            indication_pain = indication_pain or pain
            indication_lump = indication_lump or lump
        if pain and lump:
            evidence.add("painful mass", sentence)
            return True
    if indication_pain and indication_lump:
        for sentence in sentences:
            if sentence.section == "HISTORY":
                evidence.add("painful mass", sentence)
        return True
    return False
