"""The results of the clinical evaluation, as plain data the cards and the audit read.

Evaluation
├── scope: Scope                   is the report one we evaluate at all (§1)
├── reading: ReportReading         the finding, its mentions and features (§2)
├── labs: LabPanel                 each analyte's chosen value, with provenance (§3)
├── history: ClinicalHistory       conditions and history clues (§3, §6.6, §6.34)
├── open_orders: OpenOrders        tests already ordered (§3, §6.8, §6.36)
├── mechanisms                     suspected mechanism(s) (§4.1)
└── rules: list[RuleOutcome]       each rule: fired or not, why, its suggestions (§4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Assertion(StrEnum):
    PRESENT = "present"
    POSSIBLE = "possible"
    NEGATED = "negated"
    RESOLVED = "resolved"

    @property
    def counts(self) -> bool:
        """Present and possible mentions count (§2; §6.2 for features)."""
        return self in (Assertion.PRESENT, Assertion.POSSIBLE)


class FindingType(StrEnum):
    SPECIFIC_BENIGN = "specific-benign"  # type B
    NON_SPECIFIC = "non-specific"  # type N


class Depth(StrEnum):
    DEEP = "deep"
    SUPERFICIAL = "superficial"
    UNKNOWN = "unknown"


class Laterality(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Scope:
    evaluated: bool
    reason: str  # e.g. "status preliminary", "not a radiology report", "not a lower-limb exam"
    lower_limb_evidence: str | None = None  # the words that put it in scope


@dataclass(frozen=True)
class Mention:
    """One mention of the finding (or of a feature) in the report."""

    text: str  # the sentence, as written (escaped later, by the cards)
    section: str  # IMPRESSION, FINDINGS, ADDENDUM, HISTORY, CODED, ...
    source: str  # conclusionCode, result, conclusion, presentedForm, text
    assertion: Assertion
    cue: str | None = None  # the word(s) that decided the assertion


@dataclass(frozen=True)
class ReportFeatures:
    """Report-level features, aggregated across sentences (§2 table), each after assertion."""

    size_cm: float | None = None
    depth: Depth = Depth.UNKNOWN
    laterality: Laterality = Laterality.UNKNOWN  # of the finding, else of the exam (§6.9)
    exam_laterality: Laterality = Laterality.UNKNOWN
    locations: frozenset[str] = frozenset()  # intra-articular, periarticular, intratendinous, ...
    benign_patterns: frozenset[str] = frozenset()
    concerning_patterns: frozenset[str] = frozenset()
    associated_mass: bool = False
    bone_involvement: bool = False
    growth: bool = False
    painful_mass: bool = False
    multiplicity: bool = False
    suspected_malignancy: bool = False  # §6.3
    nature_unclear: bool = False  # calcification vs ossification unclear (§6.35)
    history: frozenset[str] = frozenset()  # trauma, fracture, surgery, haematoma, injection,
    # calcium-injection, ckd, inflammation, connective-tissue
    evidence: tuple[tuple[str, str], ...] = ()  # (feature, sentence) pairs for the detail


@dataclass(frozen=True)
class ReportReading:
    finding_counts: bool  # at least one mention present or possible
    mentions: tuple[Mention, ...] = ()
    finding_type: FindingType | None = None  # None when the finding does not count
    benign_entities: frozenset[str] = frozenset()  # phlebolith, vascular, calcific-tendinitis, ...
    features: ReportFeatures = field(default_factory=ReportFeatures)
    skipped_forms: tuple[str, ...] = ()  # presentedForm not read, and why
    exam: str | None = None  # the exam name, for the card
    # type N from the report alone only because myositis ossificans / heterotopic ossification
    # lacks a trauma/surgery history in the report: type B if an injury Condition supplies it (§6.34)
    ossification_needs_history: bool = False
    exam_texts: tuple[str, ...] = ()  # code, titles, EXAM/TECHNIQUE lines naming the exam (§6.23)
    body_site_codes: frozenset[str] = frozenset()  # SNOMED codes in code/bodySite fields (§1)

    @property
    def triggering_sentences(self) -> tuple[str, ...]:
        return tuple(m.text for m in self.mentions if m.assertion.counts)


@dataclass(frozen=True)
class LabValue:
    """One lab value as the rules use it, with everything the card must say about it."""

    analyte: str  # calcium-total, calcium-ionized, calcium-corrected, phosphate, pth, creatinine,
    # egfr, albumin, vitamin-d
    value: float  # in the analyte's canonical unit
    unit: str  # canonical unit (mg/dL, pg/mL, mL/min/{1.73_m2}, g/dL, ng/mL)
    effective: datetime | None  # when it was measured (computed values: the inputs' date)
    observation_id: str | None  # None for computed values
    original_value: float | None = None
    original_unit: str | None = None
    converted: bool = False
    computed: bool = False  # corrected calcium, CKD-EPI eGFR
    comparator: str | None = None  # <, <=, >, >=
    reference_high: float | None = None  # canonical unit, from the Observation's referenceRange
    upper_limit: float | None = None  # the ULN used (reference_high, else adult default)
    upper_limit_source: str | None = None  # "reference range", "adult default", "reported"
    interpretation: str | None = None  # H, HH, L, ... (children, §5)
    recent: bool = True
    status: str = "final"
    code: str | None = None  # LOINC
    note: str | None = None  # e.g. "computed with CKD-EPI 2021 from creatinine 1.4 mg/dL"
    derived_from: tuple[str, ...] = ()  # computed values: the input Observations' ids


@dataclass(frozen=True)
class UnusableLab:
    """A lab that was found but cannot meet a threshold, and why (§6.1)."""

    analyte: str
    reason: str  # "unknown unit 'mg'", "stale (2025-01-02, older than 90 days)", "preliminary"
    effective: datetime | None
    observation_id: str | None
    display_value: str  # value and unit as written


@dataclass(frozen=True)
class LabPanel:
    values: dict[str, LabValue] = field(default_factory=dict)  # most recent usable per analyte
    calcium: LabValue | None = None  # chosen: ionized → corrected (reported or computed) → total
    egfr: LabValue | None = None  # measured, else computed (adults, sex known)
    ca_x_p: float | None = None  # mg²/dL², information only
    ca_x_p_flagged: bool = False  # ≥ 55
    unusable: tuple[UnusableLab, ...] = ()
    missing_core: tuple[str, ...] = ()  # calcium, phosphate, creatinine (§4 CalcMetabolicWorkup)

    def high(self, analyte: str) -> bool:
        """Is the analyte's recent usable value above its upper limit?"""
        lab = self.calcium if analyte == "calcium" else self.values.get(analyte)
        return lab is not None and lab.upper_limit is not None and _above(lab, lab.upper_limit)


def _above(lab: LabValue, limit: float) -> bool:
    if lab.comparator in ("<", "<="):
        return False  # an upper bound never proves a value above a limit
    return lab.value > limit


@dataclass(frozen=True)
class ClinicalHistory:
    """Active conditions that matter, each with the Condition id that showed it."""

    ckd_triggering: bool = False  # G3–G5, unspecified stage, ESRD, dialysis (§6.6)
    ckd_any: bool = False  # any CKD/ESRD/dialysis condition (work-up PTH, §6.6/6.29)
    esrd_or_dialysis: bool = False
    hyperparathyroidism: bool = False
    hypercalcaemia: bool = False
    hyperphosphataemia: bool = False
    soft_tissue_neoplasm: bool = False
    recent_leg_injury: bool = False
    inflammation: bool = False  # inflammation or connective tissue disease (§6.34)
    connective_tissue_disease: bool = False  # dermatomyositis, scleroderma, lupus
    hypervitaminosis_d: bool = False
    evidence: tuple[tuple[str, str], ...] = ()  # (concept, "Condition/id: display (code)")


@dataclass(frozen=True)
class OpenOrder:
    covers: str  # calcium, phosphate, creatinine, pth, vitamin-d, albumin, mri, ct, us,
    # referral-nephrology, referral-endocrinology, referral-sarcoma
    service_request_id: str
    authored_on: datetime | None


@dataclass(frozen=True)
class OpenOrders:
    orders: tuple[OpenOrder, ...] = ()

    def covers(self, test: str) -> bool:
        return any(order.covers == test for order in self.orders)


class Mechanism(StrEnum):
    METASTATIC = "metastatic"
    DYSTROPHIC = "dystrophic"
    IATROGENIC = "iatrogenic"
    IDIOPATHIC = "idiopathic"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class SuggestedOrder:
    """One suggestion of a card: a test, imaging study or referral to propose.

    ``test`` names the order in the artifact's terminology (the codes are looked up when the
    draft ServiceRequest is built) and is the key `OpenOrders` uses.
    """

    test: str  # calcium, phosphate, creatinine, albumin, pth, vitamin-d, mri, ct, us,
    # referral-nephrology, referral-endocrinology, referral-sarcoma
    kind: str  # laboratory, imaging, referral
    label: str  # what the clinician reads on the button
    reason: str  # why this is suggested (shown in the detail)
    laterality: Laterality = Laterality.UNKNOWN
    recommended: bool = False


@dataclass(frozen=True)
class WithheldSuggestion:
    test: str
    reason: str  # "already ordered (ServiceRequest/123, 2026-11-20)", "recent result"


@dataclass(frozen=True)
class RuleOutcome:
    rule_id: str  # the topic code, e.g. CalcRedFlags
    rule_version: str
    status: str  # active / silent (retired rules are not evaluated, so never here)
    fired: bool
    reasons: tuple[str, ...]  # why it fired, or why not
    indicator: str | None = None  # info / warning / critical when fired
    suggestions: tuple[SuggestedOrder, ...] = ()
    withheld: tuple[WithheldSuggestion, ...] = ()
    selection_behavior: str | None = None  # any / at-most-one
    suppressed: str | None = None  # fired but no card (e.g. §6.13 work-up with no open order)

    @property
    def shows_card(self) -> bool:
        return self.fired and self.status == "active" and self.suppressed is None


@dataclass(frozen=True)
class Evaluation:
    evaluated_at: datetime
    artifact_id: str
    artifact_version: str
    artifact_hash: str
    scope: Scope
    report_id: str
    patient_id: str | None
    age_years: int | None = None
    is_child: bool = False
    sex: str | None = None
    reading: ReportReading = field(default_factory=lambda: ReportReading(finding_counts=False))
    labs: LabPanel = field(default_factory=LabPanel)
    history: ClinicalHistory = field(default_factory=ClinicalHistory)
    open_orders: OpenOrders = field(default_factory=OpenOrders)
    mechanisms: tuple[Mechanism, ...] = ()
    rules: tuple[RuleOutcome, ...] = ()
    data_gaps: tuple[str, ...] = ()  # "labs: FHIR server timed out" ...
    report_date: datetime | None = None

    @property
    def outcome_reason(self) -> str | None:
        if not self.scope.evaluated:
            return self.scope.reason
        if not self.reading.finding_counts:
            return "the report does not describe a present or possible soft-tissue calcification"
        return None

    @property
    def outcome(self) -> str:
        """The invocation outcome this evaluation leads to (design.md decision 6)."""
        if not self.scope.evaluated:
            return "out-of-scope"
        if not self.reading.finding_counts:
            return "no-finding"
        if any(rule.shows_card for rule in self.rules):
            return "cards"
        if any(rule.fired and rule.status == "silent" for rule in self.rules):
            return "silent"
        if any(rule.fired for rule in self.rules):
            return "suppressed"
        return "no-finding"
