"""The lab panel the rules read (§3, §5, §6.1, §6.8, §6.10, §6.11, §6.17, §6.27, §6.28, §6.36).

Each Observation is matched to an analyte by its LOINC code (the artifact's value sets), read in
the analyte's canonical unit and given its upper limit. Per analyte the most recent usable value
is kept when it is recent; everything found but not usable is listed with its reason, because the
card must say what was stale or unusable (§6.1). Derived values (corrected calcium, CKD-EPI eGFR,
Ca×P) are computed only from recent usable inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cds_service.clinical.egfr import can_compute, ckd_epi_2021
from cds_service.clinical.evaluation import LabPanel, LabValue, UnusableLab
from cds_service.clinical.patient import as_utc, codings, first_code, is_child, parse_fhir_datetime
from cds_service.clinical.patient_data import Resource
from cds_service.clinical.units import CanonicalValue, Unreadable, read_quantity
from cds_service.knowledge.model import AdultUpperLimits, Artifact, Parameters
from cds_service.knowledge.terminology import Terminology

USABLE_STATUSES = frozenset({"final", "amended", "corrected"})
IGNORED_STATUSES = frozenset({"entered-in-error", "cancelled"})

# Analyte key → the artifact's recency parameter (§3: 90 days, PTH and vitamin D 365 days).
_RECENCY_PARAMETER = {
    "calcium-total": "calcium",
    "calcium-ionized": "calcium",
    "calcium-corrected": "calcium",
    "phosphate": "phosphate",
    "pth": "pth",
    "creatinine": "creatinine",
    "egfr": "egfr",
    "albumin": "albumin",
    "vitamin-d": "vitamin_d",
}
# Core labs of the work-up and the analytes that meet each (§6.8, §6.36).
_CORE_LABS = (
    ("calcium", ("calcium-total", "calcium-ionized", "calcium-corrected")),
    ("phosphate", ("phosphate",)),
    ("creatinine", ("creatinine", "egfr")),
)
# Corrected Ca = Ca + 0.8 × (4.0 − albumin g/dL): the formula's own constants (terminology.md).
_CORRECTION_PER_G_DL = 0.8
_REFERENCE_ALBUMIN_G_DL = 4.0
# A bound on creatinine is the opposite bound on eGFR (the equation falls as creatinine rises).
_INVERTED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class _Context:
    terminology: Terminology
    parameters: Parameters
    now: datetime
    child: bool

    @property
    def ucum_systems(self) -> frozenset[str]:
        return self.terminology.system_names("ucum")

    def recency_days(self, analyte: str) -> int:
        days: int = getattr(self.parameters.recency_days, _RECENCY_PARAMETER[analyte])
        return days

    def is_recent(self, effective: datetime, analyte: str) -> bool:
        return self.now - effective <= timedelta(days=self.recency_days(analyte))


def assess_labs(
    observations: Sequence[Resource],
    artifact: Artifact,
    now: datetime,
    age_years: int | None,
    sex: str | None,
) -> LabPanel:
    """The panel of §3 at ``now``: chosen values, derived values, what is unusable or missing."""
    context = _Context(
        artifact.terminology, artifact.parameters, as_utc(now), is_child(age_years, artifact.parameters)
    )
    readable: dict[str, list[LabValue]] = {}
    unusable: list[UnusableLab] = []
    for lab in _read_newest_first(observations, context):
        if isinstance(lab, LabValue):
            readable.setdefault(lab.analyte, []).append(lab)
        else:
            unusable.append(lab)
    values = _recent_values(readable, context, unusable)
    _add_corrected_calcium(values, context)
    _add_computed_egfr(values, context, age_years, sex)
    ca_x_p = _calcium_phosphate_product(values)
    return LabPanel(
        values=values,
        calcium=_chosen_calcium(values),
        egfr=values.get("egfr"),
        ca_x_p=ca_x_p,
        ca_x_p_flagged=ca_x_p is not None and ca_x_p >= artifact.parameters.ca_x_p_flag,
        unusable=_still_relevant(unusable, values),
        missing_core=_missing_core(values),
    )


def _read_newest_first(
    observations: Sequence[Resource], context: _Context
) -> Iterator[LabValue | UnusableLab]:
    """Each result worth reading, read newest first; nothing older than an analyte's newest
    recent usable value.

    Such older results can change nothing: a readable one is not the latest, and an unusable
    dated one is superseded (``_still_relevant``). A patient's search holds dozens of results per
    analyte; this reads a handful. Undated results are always read (they are never superseded).
    The sort is stable, so among results of the same instant the first sent still wins.
    """
    ours = [
        (observation, matched, _effective(observation))
        for observation in observations
        if (matched := _analyte_and_code(observation, context.terminology)) is not None
    ]
    ours.sort(key=lambda item: item[2] or _UNDATED, reverse=True)
    newest_recent: dict[str, datetime] = {}
    for observation, (analyte, loinc), effective in ours:
        if effective is not None and analyte in newest_recent and effective < newest_recent[analyte]:
            continue
        lab = _read_observation(observation, analyte, loinc, effective, context)
        if lab is None:
            continue
        yield lab
        if (
            isinstance(lab, LabValue)
            and analyte not in newest_recent
            and context.is_recent(_effective_of(lab), analyte)
        ):
            newest_recent[analyte] = _effective_of(lab)


_UNDATED = datetime.min.replace(tzinfo=UTC)


# --- reading one Observation -------------------------------------------------------------------


def _read_observation(
    observation: Resource, analyte: str, loinc: str, effective: datetime | None, context: _Context
) -> LabValue | UnusableLab | None:
    """A usable value of one of our analytes, the reason it is unusable, or None if withdrawn."""
    status = observation.get("status")
    if status in IGNORED_STATUSES:
        return None

    def unusable(reason: str) -> UnusableLab:
        return UnusableLab(analyte, reason, effective, _id(observation), _as_written(observation))

    if status not in USABLE_STATUSES:
        return unusable(_status_reason(status))
    measured = read_quantity(
        observation.get("valueQuantity"), context.terminology.quantity_of(analyte), context.ucum_systems
    )
    if isinstance(measured, Unreadable):
        return unusable(measured.reason)
    if effective is None:
        return unusable("no date")
    return _lab_value(observation, analyte, loinc, measured, effective, context)


def _status_reason(status: object) -> str:
    if status == "preliminary":
        return "preliminary"  # may be shown, never used for a threshold (§3)
    return f"status '{status}'" if status else "no status"


def _analyte_and_code(observation: Resource, terminology: Terminology) -> tuple[str, str] | None:
    analyte_by_coding = terminology.analyte_by_loinc_coding
    for coding in codings(observation.get("code")):
        analyte = analyte_by_coding.get((coding.get("system"), coding["code"]))
        if analyte in _RECENCY_PARAMETER:
            return analyte, coding["code"]
    return None


def _effective(observation: Resource) -> datetime | None:
    """When it was measured: effectiveDateTime, else the period's start, else ``issued``."""
    measured = parse_fhir_datetime(observation.get("effectiveDateTime"))
    if measured is not None:  # nearly every result: the rest is not looked at
        return measured
    period = observation.get("effectivePeriod")
    candidates = (
        observation.get("effectiveInstant"),
        period.get("start") if isinstance(period, Mapping) else None,
        observation.get("issued"),
    )
    return next((moment for raw in candidates if (moment := parse_fhir_datetime(raw)) is not None), None)


def _id(resource: Resource) -> str | None:
    identifier = resource.get("id")
    return identifier if isinstance(identifier, str) else None


def _as_written(observation: Resource) -> str:
    """The value as the lab wrote it, for a clinician to recognise an unusable result."""
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, Mapping):
        parts = (
            quantity.get("comparator") or "",
            quantity.get("value", ""),
            " ",
            quantity.get("unit") or quantity.get("code") or "",
        )
        return "".join(str(part) for part in parts).strip()
    value_string = observation.get("valueString")
    return value_string if isinstance(value_string, str) else "no value"


def _lab_value(
    observation: Resource,
    analyte: str,
    loinc: str,
    measured: CanonicalValue,
    effective: datetime,
    context: _Context,
) -> LabValue:
    reference_high = _reference_high(observation, analyte, measured, context)
    upper_limit, source = _upper_limit(analyte, reference_high, context)
    return LabValue(
        analyte=analyte,
        value=measured.value,
        unit=measured.unit,
        effective=effective,
        observation_id=_id(observation),
        original_value=measured.original_value,
        original_unit=measured.original_unit,
        converted=measured.converted,
        comparator=measured.comparator,
        reference_high=reference_high,
        upper_limit=upper_limit,
        upper_limit_source=source,
        interpretation=first_code(_first(observation.get("interpretation"))) if context.child else None,
        status=str(observation.get("status")),
        code=loinc,
    )


def _first(items: object) -> object:
    return items[0] if isinstance(items, list) and items else None


def _reference_high(
    observation: Resource, analyte: str, measured: CanonicalValue, context: _Context
) -> float | None:
    """The first ``referenceRange.high`` in the canonical unit; a bound without a unit shares
    the value's, one in an unknown unit is not used."""
    for reference_range in observation.get("referenceRange") or ():
        high = reference_range.get("high") if isinstance(reference_range, Mapping) else None
        if high is None:
            continue
        bound = read_quantity(
            high, context.terminology.quantity_of(analyte), context.ucum_systems, measured.original_unit
        )
        return bound.value if isinstance(bound, CanonicalValue) else None
    return None


def _upper_limit(
    analyte: str, reference_high: float | None, context: _Context
) -> tuple[float | None, str | None]:
    """The Observation's own range, else the adult default; children get no defaults (§5)."""
    if reference_high is not None:
        return reference_high, "reference range"
    default = None if context.child else _adult_default(analyte, context.parameters.adult_upper_limits)
    return (default, "adult default") if default is not None else (None, None)


def _adult_default(analyte: str, limits: AdultUpperLimits) -> float | None:
    """Default ULNs of §3; a reported corrected calcium takes the total-calcium one (§6.27)."""
    defaults = {
        "calcium-total": limits.calcium_total_mg_dl,
        "calcium-corrected": limits.calcium_total_mg_dl,
        "calcium-ionized": limits.calcium_ionized_mg_dl,
        "phosphate": limits.phosphate_mg_dl,
        "pth": limits.pth_pg_ml,
    }
    return defaults.get(analyte)


# --- choosing per analyte ----------------------------------------------------------------------


def _recent_values(
    readable: dict[str, list[LabValue]], context: _Context, unusable: list[UnusableLab]
) -> dict[str, LabValue]:
    """The most recent value per analyte when it is recent; a stale one joins ``unusable``."""
    values: dict[str, LabValue] = {}
    for analyte, labs in readable.items():
        latest = max(labs, key=_effective_of)
        if context.is_recent(_effective_of(latest), analyte):
            values[analyte] = latest
        else:
            unusable.append(_stale(latest, context))
    return values


def _effective_of(lab: LabValue) -> datetime:
    assert lab.effective is not None  # only dated values are readable
    return lab.effective


def _stale(lab: LabValue, context: _Context) -> UnusableLab:
    days = context.recency_days(lab.analyte)
    value = lab.original_value if lab.original_value is not None else lab.value
    written = f"{lab.comparator or ''}{_number(value)} {lab.original_unit or lab.unit}"
    return UnusableLab(
        analyte=lab.analyte,
        reason=f"stale ({_effective_of(lab).date().isoformat()}, older than {days} days)",
        effective=lab.effective,
        observation_id=lab.observation_id,
        display_value=written,
    )


def _still_relevant(unusable: list[UnusableLab], values: dict[str, LabValue]) -> tuple[UnusableLab, ...]:
    """Unusable results older than the analyte's chosen value are superseded, not news."""

    def superseded(lab: UnusableLab) -> bool:
        chosen = values.get(lab.analyte)
        return (
            chosen is not None
            and chosen.effective is not None
            and lab.effective is not None
            and lab.effective < chosen.effective
        )

    return tuple(lab for lab in unusable if not superseded(lab))


# --- derived values ----------------------------------------------------------------------------


def _add_corrected_calcium(values: dict[str, LabValue], context: _Context) -> None:
    """Compute the albumin correction only when no recent corrected calcium is reported (§6.27),
    from a recent total calcium and a recent albumin below the artifact's limit (§3)."""
    total, albumin = values.get("calcium-total"), values.get("albumin")
    if "calcium-corrected" in values or total is None or albumin is None:
        return
    if albumin.value >= context.parameters.albumin_correction_below_g_dl:
        return
    if total.comparator or albumin.comparator:
        return  # a bound gives no corrected value worth comparing
    corrected = total.value + _CORRECTION_PER_G_DL * (_REFERENCE_ALBUMIN_G_DL - albumin.value)
    upper_limit, source = _corrected_calcium_limit(total, context)
    values["calcium-corrected"] = LabValue(
        analyte="calcium-corrected",
        value=round(corrected, 2),
        unit=total.unit,
        effective=total.effective,
        observation_id=None,
        computed=True,
        reference_high=total.reference_high,
        upper_limit=upper_limit,
        upper_limit_source=source,
        note=(
            f"computed: calcium {_number(total.value)} mg/dL ({_day(total)}) + 0.8 × (4.0 − albumin "
            f"{_number(albumin.value)} g/dL ({_day(albumin)}))"
        ),
        derived_from=_ids(total, albumin),
    )


def _corrected_calcium_limit(total: LabValue, context: _Context) -> tuple[float | None, str | None]:
    """The total-calcium Observation's own range, else the default total ULN (§6.11); a child's
    corrected calcium without that range has nothing to be compared with (§6.17)."""
    if total.reference_high is not None:
        return total.reference_high, "reference range (total calcium)"
    if context.child:
        return None, None
    return context.parameters.adult_upper_limits.calcium_total_mg_dl, "adult default"


def _add_computed_egfr(
    values: dict[str, LabValue], context: _Context, age_years: int | None, sex: str | None
) -> None:
    """CKD-EPI 2021 from a recent creatinine when no recent eGFR was measured (§3): adults with
    known age and sex only, never children (§5)."""
    creatinine = values.get("creatinine")
    if "egfr" in values or creatinine is None or context.child or creatinine.value <= 0:
        return
    if age_years is None or sex is None or not can_compute(age_years, sex):
        return
    egfr = round(ckd_epi_2021(creatinine.value, age_years, sex), 1)
    values["egfr"] = LabValue(
        analyte="egfr",
        value=egfr,
        unit=context.terminology.quantity_of("egfr").canonical,
        effective=creatinine.effective,
        observation_id=None,
        computed=True,
        comparator=_INVERTED.get(creatinine.comparator or ""),
        note=(
            f"computed with CKD-EPI 2021 (race-free) from creatinine "
            f"{creatinine.comparator or ''}{_number(creatinine.value)} mg/dL ({_day(creatinine)}), "
            f"age {age_years}, {sex}"
        ),
        derived_from=_ids(creatinine),
    )


def _chosen_calcium(values: dict[str, LabValue]) -> LabValue | None:
    """Ionized wins over corrected (reported or computed) over total (§3, §6.12)."""
    for analyte in ("calcium-ionized", "calcium-corrected", "calcium-total"):
        if analyte in values:
            return values[analyte]
    return None


def _calcium_phosphate_product(values: dict[str, LabValue]) -> float | None:
    """Ca×P in mg²/dL² from recent values: corrected calcium, else total (an ionized calcium
    is not the calcium of this product); bounds give no product."""
    calcium = values.get("calcium-corrected") or values.get("calcium-total")
    phosphate = values.get("phosphate")
    if calcium is None or phosphate is None or calcium.comparator or phosphate.comparator:
        return None
    return round(calcium.value * phosphate.value, 1)


def _missing_core(values: dict[str, LabValue]) -> tuple[str, ...]:
    """Core labs without a recent usable measured value (§6.1, §6.8, §6.36)."""
    return tuple(
        core
        for core, analytes in _CORE_LABS
        if not any(a in values and not values[a].computed for a in analytes)
    )


def _ids(*labs: LabValue) -> tuple[str, ...]:
    return tuple(lab.observation_id for lab in labs if lab.observation_id is not None)


def _day(lab: LabValue) -> str:
    return _effective_of(lab).date().isoformat()


def _number(value: float) -> str:
    return f"{round(value, 2):g}"
