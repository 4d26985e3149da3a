"""Reading a FHIR Quantity into an analyte's canonical unit (§3, terminology.md "Units").

The unit is taken from the Quantity's UCUM ``code``; the human ``unit`` is used only when there is
no UCUM code and it is itself one of the artifact's UCUM codes. Anything else is an unknown unit:
the value is unusable and says so, it is never guessed (§3, §6.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cds_service.knowledge.terminology import Quantity, ucum_key

COMPARATORS = frozenset({"<", "<=", ">=", ">"})
_DECIMALS = 4  # enough for every threshold; hides float noise such as 10.020040080160321


@dataclass(frozen=True)
class CanonicalValue:
    """A value in the canonical unit, and what it was as written."""

    value: float
    unit: str
    comparator: str | None
    original_value: float
    original_unit: str
    converted: bool


@dataclass(frozen=True)
class Unreadable:
    """Why a Quantity could not be read: shown to the clinician as the lab's reason."""

    reason: str


def written_unit(quantity: Mapping[str, object], ucum_systems: frozenset[str]) -> str | None:
    """The unit to match: the UCUM ``code``, else the human ``unit`` (checked by the caller)."""
    code, system, unit = quantity.get("code"), quantity.get("system"), quantity.get("unit")
    if isinstance(code, str) and code.strip() and (system is None or system in ucum_systems):
        return code.strip()
    if isinstance(unit, str) and unit.strip():
        return unit.strip()
    return None


def numeric_value(quantity: Mapping[str, object]) -> float | None:
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def to_canonical(value: float, unit: str, measured: Quantity) -> float | None:
    """The value in the canonical unit, None when the unit is not one of the quantity's."""
    factor = measured.factor_of(unit)
    if factor is None:
        return None
    return value if factor == 1.0 else round(value / factor, _DECIMALS)


def read_quantity(
    quantity: object, measured: Quantity, ucum_systems: frozenset[str], fallback_unit: str | None = None
) -> CanonicalValue | Unreadable:
    """A Quantity in the canonical unit; ``fallback_unit`` serves a referenceRange bound that
    omits its unit (it then shares the value's)."""
    if not isinstance(quantity, Mapping):
        return Unreadable("no numeric value")
    value = numeric_value(quantity)
    if value is None:
        return Unreadable("no numeric value")
    comparator = quantity.get("comparator")
    if comparator is not None and comparator not in COMPARATORS:
        return Unreadable(f"unknown comparator '{comparator}'")
    unit = written_unit(quantity, ucum_systems) or fallback_unit
    if unit is None:
        return Unreadable("no unit")
    canonical = to_canonical(value, unit, measured)
    if canonical is None:
        return Unreadable(f"unknown unit '{unit}'")
    converted = ucum_key(unit) != ucum_key(measured.canonical)  # ng/L → pg/mL is relabelled too
    return CanonicalValue(
        value=canonical,
        unit=measured.canonical,
        comparator=comparator if isinstance(comparator, str) else None,
        original_value=value,
        original_unit=unit,
        converted=converted,
    )
