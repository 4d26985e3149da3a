"""Schema of the artifact's codes: lab value sets, units, conditions, orders (terminology.md).

Every code the service compares lives in the artifact's ``terminology:`` section, never in code,
so a terminology review can change it without a release. A code seen only in secondary sources
carries ``check: true`` until that review confirms it.

    Terminology
    ├── systems        short name → code system URI (+ aliases such as OIDs)
    ├── units          per quantity: canonical UCUM unit and the factors of the others
    ├── analytes       lab value sets (LOINC, each with its unit), keyed as LabPanel keys them
    ├── conditions     SNOMED / ICD-10-CM value sets and what each counts as (§3, §6.6)
    ├── findings       codes of the finding itself (conclusionCode, §2)
    ├── body_sites, laterality
    ├── orders         what we suggest, and which codes make an order "the same test" (§6.36)
    └── order_categories   ServiceRequest.category per kind of order
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SystemName = Literal["loinc", "snomed", "icd10cm", "cpt", "ucum"]
HistoryFlag = Literal[
    "ckd",
    "ckd-triggering",
    "esrd-or-dialysis",
    "hyperparathyroidism",
    "hypercalcaemia",
    "hyperphosphataemia",
    "hypervitaminosis-d",
    "soft-tissue-neoplasm",
    "leg-injury",
    "inflammation",
    "connective-tissue-disease",
]
OrderKind = Literal["laboratory", "imaging", "referral"]
Side = Literal["left", "right", "bilateral"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def ucum_key(unit: str) -> str:
    """The form two UCUM unit strings are compared in.

    UCUM's case-insensitive form makes ``mg/dl``, ``MG/DL`` and ``mg/dL`` the same unit; for
    the units of this artifact folding the case never merges two different units.
    """
    return unit.strip().casefold()


def icd_key(code: str) -> str:
    """ICD-10-CM codes arrive with and without the dot (``N18.4``, ``N184``): compare dotless."""
    return code.strip().upper().replace(".", "")


class CodeSystem(_Model):
    uri: str
    aliases: tuple[str, ...] = ()  # e.g. the OID form some EHRs still send

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset((self.uri, *self.aliases))

    def names(self) -> frozenset[str]:
        """Built once: every coding of every resource is checked against these."""
        return self._names


class Code(_Model):
    """One code of a value set; ``check`` = seen only in secondary sources (terminology.md)."""

    code: str
    display: str | None = None
    check: bool = False


class IcdCode(Code):
    """An ICD-10-CM code; ``prefix`` makes it match every code below it (N18 → N18.x)."""

    prefix: bool = False

    def matches(self, candidate: str) -> int:
        """How specifically this entry matches (dotless length), 0 when it does not."""
        own, other = icd_key(self.code), icd_key(candidate)
        if own == other or (self.prefix and other.startswith(own)):
            return len(own)
        return 0


class SystemCode(Code):
    """A code together with its system (short name from ``Terminology.systems``)."""

    system: SystemName


class Conversion(_Model):
    """One canonical unit equals ``factor`` of ``unit`` (terminology.md: mg/dL × 0.2495 = mmol/L)."""

    unit: str
    factor: float = Field(gt=0)


class Quantity(_Model):
    """A measured quantity: its canonical UCUM unit and the other units it may arrive in."""

    canonical: str
    conversions: tuple[Conversion, ...] = ()

    def factor_of(self, unit: str) -> float | None:
        """``factor`` of a unit (1 for the canonical one), None when the unit is not known."""
        key = ucum_key(unit)
        if key == ucum_key(self.canonical):
            return 1.0
        return next((c.factor for c in self.conversions if ucum_key(c.unit) == key), None)


class LabCode(Code):
    unit: str  # the unit the LOINC code is defined in (UCUM); values convert by their own unit


class Analyte(_Model):
    label: str  # what the card calls it (never a LOINC display: they change, some name a race)
    quantity: str  # key of ``Terminology.units``
    codes: tuple[LabCode, ...]
    assessed: bool = True  # False: optional context, kept as data but not assessed in v1


class ConditionConcept(_Model):
    label: str
    counts_as: tuple[HistoryFlag, ...] = Field(min_length=1)  # first one names the evidence
    snomed: tuple[Code, ...] = ()
    icd10cm: tuple[IcdCode, ...] = ()
    recent_within_days: int | None = Field(default=None, gt=0)  # only then counts (injury)


class FindingConcept(_Model):
    label: str
    snomed: tuple[Code, ...] = ()
    icd10cm: tuple[IcdCode, ...] = ()


class Orderable(_Model):
    """A test, study or referral we may suggest, and the codes that make an order the same."""

    kind: OrderKind
    label: str
    code: SystemCode | None = None  # the code we order (lab: the mass-unit LOINC)
    by_side: dict[Side, SystemCode] = Field(default_factory=dict)  # laterality-specific codes
    side_unknown: SystemCode | None = None  # e.g. CPT 73720 with text when no side is known
    reason: SystemCode | None = None  # reasonCode sent with the order (sarcoma work-up)
    service_text: str | None = None  # text naming the service (referrals)
    covered_by_analytes: tuple[str, ...] = ()  # any code of these analytes is the same test

    def own_codes(self) -> tuple[SystemCode, ...]:
        extra = (self.code, self.side_unknown)
        return (*(c for c in extra if c is not None), *self.by_side.values())


class Terminology(_Model):
    systems: dict[SystemName, CodeSystem]
    units: dict[str, Quantity]
    analytes: dict[str, Analyte]
    conditions: dict[str, ConditionConcept]
    findings: dict[str, FindingConcept]
    body_sites: dict[str, Code]
    laterality: dict[Side, Code]
    orders: dict[str, Orderable]
    order_categories: dict[OrderKind, Code]

    @model_validator(mode="after")
    def _references_resolve(self) -> Terminology:
        missing_systems = [
            name for name in ("loinc", "snomed", "icd10cm", "cpt", "ucum") if name not in self.systems
        ]
        if missing_systems:
            raise ValueError(f"systems: missing {', '.join(missing_systems)}")
        for key, analyte in self.analytes.items():
            self._check_analyte(key, analyte)
        for key, order in self.orders.items():
            unknown = [a for a in order.covered_by_analytes if a not in self.analytes]
            if unknown:
                raise ValueError(f"orders.{key}.covered_by_analytes: unknown analyte(s) {unknown}")
        return self

    def _check_analyte(self, key: str, analyte: Analyte) -> None:
        quantity = self.units.get(analyte.quantity)
        if quantity is None:
            raise ValueError(f"analytes.{key}.quantity: '{analyte.quantity}' is not in units")
        for lab_code in analyte.codes:
            if quantity.factor_of(lab_code.unit) is None:
                raise ValueError(
                    f"analytes.{key}: unit '{lab_code.unit}' of {lab_code.code} "
                    f"has no conversion in units.{analyte.quantity}"
                )

    def system_names(self, system: SystemName) -> frozenset[str]:
        """Every URI that names the system (its canonical URI and aliases)."""
        return self.systems[system].names()

    def system_uri(self, system: SystemName) -> str:
        return self.systems[system].uri

    def quantity_of(self, analyte: str) -> Quantity:
        return self.units[self.analytes[analyte].quantity]

    def analyte_of_loinc(self, loinc: str) -> str | None:
        """The analyte key a LOINC code belongs to (only assessed analytes), else None."""
        return self._analyte_by_loinc.get(loinc)

    @cached_property
    def analyte_by_loinc_coding(self) -> dict[tuple[object, object], str]:
        """(system URI, LOINC code) → assessed analyte, for every URI naming LOINC: one look-up
        per coding of every Observation of every invocation (hot path)."""
        loinc_uris = self.system_names("loinc")
        return {(uri, code): key for code, key in self._analyte_by_loinc.items() for uri in loinc_uris}

    @cached_property
    def _analyte_by_loinc(self) -> dict[str, str]:
        """Built once: every Observation of every invocation is looked up here (hot path)."""
        index: dict[str, str] = {}
        for key, analyte in self.analytes.items():
            if analyte.assessed:
                for code in analyte.codes:
                    index.setdefault(code.code, key)
        return index

    def codes_covering(self, test: str) -> frozenset[tuple[SystemName, str]]:
        """(system, code) pairs of every order that counts as ``test`` (§6.36)."""
        return self.codes_by_test[test]

    @cached_property
    def codes_by_test(self) -> dict[str, frozenset[tuple[SystemName, str]]]:
        """Built once: every invocation checks its open orders against all of them."""
        covering: dict[str, frozenset[tuple[SystemName, str]]] = {}
        for test, order in self.orders.items():
            own = {(c.system, c.code) for c in order.own_codes()}
            for analyte in order.covered_by_analytes:
                own.update(("loinc", c.code) for c in self.analytes[analyte].codes)
            covering[test] = frozenset(own)
        return covering

    @cached_property
    def system_by_uri(self) -> dict[str, SystemName]:
        """Each URI (canonical or alias) of a code system, mapped to the artifact's short name."""
        return {uri: name for name, system in self.systems.items() for uri in system.names()}
