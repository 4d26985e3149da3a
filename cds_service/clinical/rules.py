"""The five rules of clinical-rules.md §4, and the suspected mechanism of §4.1.

Each rule answers: does it fire, why (or why not), with which indicator and which suggestions.
Suggestions for tests already ordered are withheld (§3 orders, §6.8, §6.36); a rule whose every
suggestion is withheld still fires if its reason stands, except CalcMetabolicWorkup, whose only
purpose is the orders (§6.13).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cds_service.clinical.evaluation import (
    ClinicalHistory,
    Depth,
    FindingType,
    LabPanel,
    LabValue,
    Laterality,
    Mechanism,
    OpenOrders,
    ReportReading,
    RuleOutcome,
    SuggestedOrder,
    WithheldSuggestion,
)
from cds_service.knowledge import Artifact

RULE_ORDER = (
    "CalcRedFlags",
    "CalcMetabolicAbnormal",
    "CalcMetabolicWorkup",
    "CalcFurtherImaging",
    "CalcBenignPattern",
)


@dataclass(frozen=True)
class Facts:
    """Everything the rules look at, gathered once."""

    reading: ReportReading
    labs: LabPanel
    history: ClinicalHistory
    orders: OpenOrders
    is_child: bool
    artifact: Artifact

    @property
    def laterality(self) -> Laterality:
        return self.reading.features.laterality

    @property
    def finding_type(self) -> FindingType | None:
        """Myositis ossificans / heterotopic ossification is type B with a trauma or surgery
        history, which an active recent leg-injury Condition also supplies (§2, §6.34)."""
        if self.reading.ossification_needs_history and self.history.recent_leg_injury:
            return FindingType.SPECIFIC_BENIGN
        return self.reading.finding_type

    @property
    def non_specific(self) -> bool:
        return self.finding_type is FindingType.NON_SPECIFIC

    @property
    def specific_benign(self) -> bool:
        return self.finding_type is FindingType.SPECIFIC_BENIGN


# ----------------------------------------------------------------- lab judgements


def is_high(lab: LabValue | None, is_child: bool) -> bool:
    """Above its upper limit; children also by their own H/HH flag (§5), adults never (§6.28)."""
    if lab is None:
        return False
    if is_child and lab.interpretation in ("H", "HH"):
        return True
    if lab.upper_limit is None or lab.comparator in ("<", "<="):
        return False  # an upper bound never proves a value above a limit
    return lab.value > lab.upper_limit


def egfr_below(lab: LabValue | None, threshold: float) -> bool:
    """A value with a comparator is its bound on the comparator's side (§6.28).

    "<60" is below 60 and "<15" below 30; ">15" proves nothing against 30, ">90" is not below 60.
    """
    if lab is None or lab.comparator in (">", ">="):
        return False
    if lab.comparator == "<":
        return lab.value <= threshold
    return lab.value < threshold


ANALYTE_WORDS = {
    "calcium-total": "total calcium",
    "calcium-ionized": "ionized calcium",
    "calcium-corrected": "corrected calcium",
    "phosphate": "phosphate",
    "pth": "PTH",
    "creatinine": "creatinine",
    "egfr": "eGFR",
    "albumin": "albumin",
    "vitamin-d": "25-OH vitamin D",
}


def number(value: float) -> str:
    """Values as a clinician reads them: at most two decimals, no trailing zeros."""
    return f"{round(value, 2):g}"


UNIT_DISPLAY = {"mL/min/{1.73_m2}": "mL/min/1.73 m²"}  # UCUM codes a clinician would not write


def unit_text(unit: str) -> str:
    return UNIT_DISPLAY.get(unit, unit)


def describe(lab: LabValue) -> str:
    """'total calcium 10.9 mg/dL on 2026-11-02 (computed)' — never a value without its date."""
    when = lab.effective.date().isoformat() if lab.effective else "date unknown"
    how = " (computed)" if lab.computed else ""
    words = ANALYTE_WORDS.get(lab.analyte, lab.analyte)
    return f"{words} {lab.comparator or ''}{number(lab.value)} {unit_text(lab.unit)} on {when}{how}"


# ----------------------------------------------------------------- red flags (CalcRedFlags)


def red_flags(facts: Facts) -> tuple[str, ...]:
    """The red flags of §4 and §6.3, each as the reason a clinician reads."""
    features = facts.reading.features
    limit = facts.artifact.parameters.red_flag_size_cm
    flags = []
    if features.size_cm is not None and features.size_cm > limit:
        flags.append(f"size {features.size_cm:g} cm (> {limit:g} cm)")
    if features.depth is Depth.DEEP:
        flags.append("deep to the fascia")
    if features.associated_mass:
        flags.append("associated soft-tissue mass")
    if features.bone_involvement:
        flags.append("bone involvement")
    if features.growth:
        flags.append("growth")
    if features.painful_mass:
        flags.append("painful mass")
    if features.concerning_patterns:
        flags.append("concerning pattern: " + ", ".join(sorted(features.concerning_patterns)))
    if features.suspected_malignancy:
        flags.append("the report raises a suspicion of malignancy")
    return tuple(flags)


def red_flag_indicator(facts: Facts) -> str:
    features = facts.reading.features
    large = features.size_cm is not None and features.size_cm > facts.artifact.parameters.red_flag_size_cm
    if features.bone_involvement or (features.associated_mass and (large or features.depth is Depth.DEEP)):
        return "critical"
    return "warning"


def red_flag_suggestions(facts: Facts) -> list[SuggestedOrder]:
    side = facts.laterality
    suggestions = [
        SuggestedOrder(
            "mri",
            "imaging",
            "MRI lower extremity without and with IV contrast",
            "characterise the lesion before any biopsy",
            side,
        ),
        SuggestedOrder(
            "referral-sarcoma",
            "referral",
            "Refer to orthopaedic oncology / sarcoma service",
            "red flags for a soft-tissue sarcoma (NICE NG12)",
            side,
        ),
    ]
    if facts.reading.features.nature_unclear:
        suggestions.append(
            SuggestedOrder(
                "ct",
                "imaging",
                "CT lower extremity without contrast",
                "calcification vs ossification is unclear on the radiograph",
                side,
            )
        )
    return suggestions


# ----------------------------------------------------------------- metabolism (CalcMetabolicAbnormal)


def metabolic_abnormalities(facts: Facts) -> tuple[str, ...]:
    labs, history, child = facts.labs, facts.history, facts.is_child
    found = []
    if is_high(labs.calcium, child):
        found.append(f"calcium above the upper limit ({_lab_with_limit(labs.calcium)})")
    for analyte, name in (("phosphate", "phosphate"), ("pth", "PTH")):
        lab = labs.values.get(analyte)
        if is_high(lab, child):
            found.append(f"{name} above the upper limit ({_lab_with_limit(lab)})")
    threshold = facts.artifact.parameters.egfr_threshold
    if egfr_below(labs.egfr, threshold):
        assert labs.egfr is not None
        found.append(f"eGFR below {threshold:g} ({describe(labs.egfr)})")
    conditions = (
        (history.ckd_triggering, "chronic kidney disease (G3-G5, unstaged, ESRD or dialysis)"),
        (history.hyperparathyroidism, "hyperparathyroidism"),
        (history.hypercalcaemia, "hypercalcaemia"),
        (history.hyperphosphataemia, "hyperphosphataemia"),
    )
    found.extend(f"active condition: {name}" for present, name in conditions if present)
    return tuple(found)


def _lab_with_limit(lab: LabValue | None) -> str:
    assert lab is not None
    if lab.upper_limit is None:
        return describe(lab) + ", flagged high"
    limit = f", upper limit {number(lab.upper_limit)} {unit_text(lab.unit)}"
    return describe(lab) + limit


def metabolic_suggestions(facts: Facts) -> list[SuggestedOrder]:
    labs = facts.labs
    suggestions = []
    if "pth" not in labs.values:
        suggestions.append(SuggestedOrder("pth", "laboratory", "PTH, intact", "no recent PTH (365 days)"))
    if "vitamin-d" not in labs.values:
        suggestions.append(
            SuggestedOrder(
                "vitamin-d", "laboratory", "25-OH vitamin D", "no recent 25-OH vitamin D (365 days)"
            )
        )
    if needs_nephrology(facts):
        suggestions.append(
            SuggestedOrder("referral-nephrology", "referral", "Refer to nephrology", nephrology_reason(facts))
        )
    if needs_endocrinology(facts):
        suggestions.append(
            SuggestedOrder(
                "referral-endocrinology",
                "referral",
                "Refer to endocrinology",
                "high calcium with high PTH, or hyperparathyroidism, without kidney disease",
            )
        )
    return suggestions


def needs_nephrology(facts: Facts) -> bool:
    """eGFR < 30, ESRD or dialysis, or eGFR < 60 with high phosphate (§4)."""
    params, labs = facts.artifact.parameters, facts.labs
    severe = egfr_below(labs.egfr, params.egfr_nephrology_threshold) or facts.history.esrd_or_dialysis
    high_phosphate = is_high(labs.values.get("phosphate"), facts.is_child)
    return severe or (egfr_below(labs.egfr, params.egfr_threshold) and high_phosphate)


def nephrology_reason(facts: Facts) -> str:
    if facts.history.esrd_or_dialysis:
        return "end-stage kidney disease or dialysis"
    if egfr_below(facts.labs.egfr, facts.artifact.parameters.egfr_nephrology_threshold):
        return "eGFR below 30"
    return "eGFR below 60 with high phosphate"


def needs_endocrinology(facts: Facts) -> bool:
    """§4 with §6.7 and §6.12: primary hyperparathyroidism pattern, no kidney disease."""
    labs, history, child = facts.labs, facts.history, facts.is_child
    kidney_disease = history.ckd_triggering or egfr_below(labs.egfr, facts.artifact.parameters.egfr_threshold)
    if kidney_disease:
        return False
    high_calcium_and_pth = is_high(labs.calcium, child) and is_high(labs.values.get("pth"), child)
    return high_calcium_and_pth or history.hyperparathyroidism


# ----------------------------------------------------------------- work-up (CalcMetabolicWorkup)

CORE_LAB_LABELS = {"calcium": "Calcium", "phosphate": "Phosphate", "creatinine": "Creatinine"}


def workup_suggestions(facts: Facts) -> list[SuggestedOrder]:
    labs = facts.labs
    suggestions = [
        SuggestedOrder(core, "laboratory", CORE_LAB_LABELS[core], f"no recent {core} result")
        for core in ("calcium", "phosphate", "creatinine")
        if core in labs.missing_core
    ]
    calcium_suggested = "calcium" in labs.missing_core and not facts.orders.covers("calcium")
    if calcium_suggested and "albumin" not in labs.values:
        suggestions.append(
            SuggestedOrder("albumin", "laboratory", "Albumin", "to correct the calcium for albumin")
        )
    systemic = systemic_cause_suspected(facts)
    if systemic and "pth" not in labs.values:
        suggestions.append(
            SuggestedOrder("pth", "laboratory", "PTH, intact", f"a systemic cause is suspected ({systemic})")
        )
    return suggestions


def systemic_cause_suspected(facts: Facts) -> str:
    """Multiplicity, periarticular location or CKD history (§4, §6.29); '' when none."""
    features = facts.reading.features
    clues = []
    if features.multiplicity:
        clues.append("multiple calcifications")
    if "periarticular" in features.locations:
        clues.append("periarticular")
    if facts.history.ckd_any or "ckd" in features.history:
        clues.append("kidney disease history")
    return ", ".join(clues)


# ----------------------------------------------------------------- imaging (CalcFurtherImaging)


def imaging_suggestions(facts: Facts) -> list[SuggestedOrder]:
    side = facts.laterality
    suggestions = []
    if facts.reading.features.depth is not Depth.DEEP:
        suggestions.append(
            SuggestedOrder(
                "us",
                "imaging",
                "Ultrasound of the lower extremity",
                "superficial or depth unknown: ultrasound shows the lesion and its relation to the fascia",
                side,
            )
        )
    suggestions.append(
        SuggestedOrder(
            "ct", "imaging", "CT lower extremity without contrast", "characterise the mineralisation", side
        )
    )
    return suggestions


# ----------------------------------------------------------------- the five rules


@dataclass(frozen=True)
class Verdict:
    """What one rule decides, before the orders already open are taken out."""

    fired: bool
    reasons: tuple[str, ...]
    indicator: str = "info"
    suggestions: tuple[SuggestedOrder, ...] = ()
    selection: str = "any"
    suppress_when_empty: bool = False  # only the work-up: its orders are its purpose (§6.13)


def apply_rules(facts: Facts, *, all_silent: bool = False) -> tuple[RuleOutcome, ...]:
    """Every rule not retired, in the order of §4; `all_silent` for an expired artifact."""
    outcomes = []
    for rule_id in RULE_ORDER:
        definition = facts.artifact.rules[rule_id]
        if definition.status == "retired":
            continue
        status = "silent" if all_silent else definition.status
        verdict = RULES[rule_id](facts) if facts.reading.finding_counts else NO_FINDING
        outcomes.append(_outcome(facts, rule_id, definition.version, status, verdict))
    return tuple(outcomes)


NO_FINDING = Verdict(False, ("the finding does not count",))


def _outcome(facts: Facts, rule_id: str, version: str, status: str, verdict: Verdict) -> RuleOutcome:
    if not verdict.fired:
        return RuleOutcome(rule_id, version, status, fired=False, reasons=verdict.reasons)
    kept, withheld = _withhold_ordered(verdict.suggestions, facts.orders)
    kept = recommend_first(kept)
    suppressed = None
    if verdict.suppress_when_empty and not kept:
        suppressed = "every suggested test is already ordered"
    return RuleOutcome(
        rule_id,
        version,
        status,
        fired=True,
        reasons=verdict.reasons,
        indicator=verdict.indicator,
        suggestions=tuple(kept),
        withheld=tuple(withheld),
        selection_behavior=verdict.selection if kept else None,
        suppressed=suppressed,
    )


def _withhold_ordered(
    suggestions: Sequence[SuggestedOrder], orders: OpenOrders
) -> tuple[list[SuggestedOrder], list[WithheldSuggestion]]:
    kept, withheld = [], []
    for suggestion in suggestions:
        order = next((o for o in orders.orders if o.covers == suggestion.test), None)
        if order is None:
            kept.append(suggestion)
            continue
        when = f", {order.authored_on.date().isoformat()}" if order.authored_on else ""
        withheld.append(
            WithheldSuggestion(
                suggestion.test, f"already ordered (ServiceRequest/{order.service_request_id}{when})"
            )
        )
    return kept, withheld


def recommend_first(suggestions: Sequence[SuggestedOrder]) -> list[SuggestedOrder]:
    """The first suggestion still offered is isRecommended (§6.39: the first the §4 table lists)."""
    return [replace(s, recommended=index == 0) for index, s in enumerate(suggestions)]


def rule_red_flags(facts: Facts) -> Verdict:
    flags = red_flags(facts)
    return Verdict(
        bool(flags),
        flags or ("no red flag",),
        indicator=red_flag_indicator(facts),
        suggestions=tuple(red_flag_suggestions(facts)),
    )


def rule_metabolic_abnormal(facts: Facts) -> Verdict:
    found = metabolic_abnormalities(facts)
    return Verdict(
        bool(found),
        found or ("no abnormal recent lab and no triggering condition",),
        indicator="warning",
        suggestions=tuple(metabolic_suggestions(facts)),
    )


def rule_metabolic_workup(facts: Facts) -> Verdict:
    missing = facts.labs.missing_core
    if not facts.non_specific:
        return Verdict(False, ("a specific benign entity (type B) needs no work-up",))
    if not missing:
        return Verdict(False, ("calcium, phosphate and creatinine/eGFR are all recent",))
    return Verdict(
        True,
        tuple(f"no recent usable {core}" for core in missing),
        suggestions=tuple(workup_suggestions(facts)),
        suppress_when_empty=True,
    )


def rule_further_imaging(facts: Facts) -> Verdict:
    if not facts.non_specific:
        return Verdict(False, ("a specific benign entity (type B)",))
    if red_flags(facts):
        return Verdict(False, ("red flags present: CalcRedFlags applies instead",))
    return Verdict(
        True,
        ("non-specific calcification without red flags",),
        suggestions=tuple(imaging_suggestions(facts)),
        selection="at-most-one",
    )


def rule_benign_pattern(facts: Facts) -> Verdict:
    if not facts.specific_benign:
        return Verdict(False, ("not a specific benign entity",))
    if red_flags(facts):
        return Verdict(False, ("red flags present",))
    if metabolic_abnormalities(facts):
        return Verdict(False, ("metabolic abnormality present",))
    entities = ", ".join(sorted(facts.reading.benign_entities)) or "specific benign entity"
    return Verdict(
        True, (f"specific benign pattern ({entities}) without red flags or metabolic abnormality",)
    )


RULES: dict[str, Callable[[Facts], Verdict]] = {
    "CalcRedFlags": rule_red_flags,
    "CalcMetabolicAbnormal": rule_metabolic_abnormal,
    "CalcMetabolicWorkup": rule_metabolic_workup,
    "CalcFurtherImaging": rule_further_imaging,
    "CalcBenignPattern": rule_benign_pattern,
}


# ----------------------------------------------------------------- §4.1 mechanism


def suspected_mechanisms(facts: Facts) -> tuple[Mechanism, ...]:
    history = facts.reading.features.history
    found = []
    if metabolic_abnormalities(facts):
        found.append(Mechanism.METASTATIC)
    injury = bool(history & {"trauma", "fracture", "surgery", "haematoma"}) or facts.history.recent_leg_injury
    inflammation = bool(history & {"inflammation", "connective-tissue"}) or facts.history.inflammation
    if injury or facts.reading.features.associated_mass or inflammation:
        found.append(Mechanism.DYSTROPHIC)
    if "calcium-injection" in history:
        found.append(Mechanism.IATROGENIC)
    if not found and core_labs_recent_and_normal(facts):
        found.append(Mechanism.IDIOPATHIC)
    return tuple(found) or (Mechanism.UNDETERMINED,)


def core_labs_recent_and_normal(facts: Facts) -> bool:
    labs = facts.labs
    if labs.missing_core:
        return False
    return not (
        is_high(labs.calcium, facts.is_child)
        or is_high(labs.values.get("phosphate"), facts.is_child)
        or egfr_below(labs.egfr, facts.artifact.parameters.egfr_threshold)
    )
