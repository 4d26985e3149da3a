"""terminology.md "Units": every conversion pair, UCUM matching, unknown units (§3, §6.1)."""

from __future__ import annotations

import pytest

from cds_service.clinical.units import CanonicalValue, Unreadable, read_quantity
from cds_service.knowledge.terminology import Terminology
from tests.unit.clinical.builders import UCUM, quantity

UCUM_SYSTEMS = frozenset({UCUM})


def _read(terminology: Terminology, measured: str, written: dict[str, object]) -> CanonicalValue | Unreadable:
    return read_quantity(written, terminology.units[measured], UCUM_SYSTEMS)


@pytest.mark.parametrize(
    ("measured", "value", "unit", "expected"),
    [
        pytest.param("calcium", 2.5, "mmol/L", 2.5 * 4.008, id="Units: calcium mmol/L x 4.008 = mg/dL"),
        pytest.param("calcium", 1.30, "mmol/L", 1.30 * 4.008, id="Units: ionized calcium mmol/L to mg/dL"),
        pytest.param("calcium", 5.0, "meq/L", 2.5 * 4.008, id="Units: calcium 1 mEq/L = 0.5 mmol/L"),
        pytest.param("phosphate", 1.45, "mmol/L", 1.45 * 3.097, id="Units: phosphate mmol/L x 3.097 = mg/dL"),
        pytest.param("pth", 65, "ng/L", 65, id="Units: PTH pg/mL = ng/L"),
        pytest.param("pth", 6.9, "pmol/L", 6.9 * 9.43, id="Units: PTH pmol/L x 9.43 = pg/mL"),
        pytest.param(
            "creatinine", 123.76, "umol/L", 123.76 / 88.4, id="Units: creatinine mg/dL x 88.4 = umol/L"
        ),
        pytest.param("albumin", 35, "g/L", 3.5, id="Units: albumin g/dL x 10 = g/L"),
        pytest.param(
            "vitamin-d", 74.88, "nmol/L", 74.88 / 2.496, id="Units: vitamin D ng/mL x 2.496 = nmol/L"
        ),
    ],
)
def test_every_unit_pair_converts_to_the_canonical_unit(
    terminology: Terminology, measured: str, value: float, unit: str, expected: float
) -> None:
    read = _read(terminology, measured, quantity(value, unit, code=unit))
    assert isinstance(read, CanonicalValue)
    assert read.value == pytest.approx(expected, rel=1e-3)
    assert read.unit == terminology.units[measured].canonical
    assert (read.original_value, read.original_unit, read.converted) == (value, unit, True)


@pytest.mark.parametrize(
    ("measured", "canonical_value", "unit", "factor"),
    [
        pytest.param("calcium", 10.0, "mmol/L", 0.2495, id="Units: calcium mg/dL x 0.2495 = mmol/L"),
        pytest.param("phosphate", 4.5, "mmol/L", 0.3229, id="Units: phosphate mg/dL x 0.3229 = mmol/L"),
        pytest.param("pth", 65, "pmol/L", 0.106, id="Units: PTH pg/mL x 0.106 = pmol/L"),
    ],
)
def test_the_other_direction_of_the_table_agrees(
    terminology: Terminology, measured: str, canonical_value: float, unit: str, factor: float
) -> None:
    read = _read(terminology, measured, quantity(canonical_value * factor, unit, code=unit))
    assert isinstance(read, CanonicalValue)
    assert read.value == pytest.approx(canonical_value, rel=1e-3)


@pytest.mark.parametrize(
    ("measured", "code", "expected"),
    [
        pytest.param("calcium", "mg/dl", 10.0, id="Units: mg/dl is the same UCUM unit as mg/dL"),
        pytest.param("calcium", "MG/DL", 10.0, id="Units: MG/DL (UCUM case-insensitive form)"),
        pytest.param("calcium", "MMOL/L", 40.08, id="Units: MMOL/L is mmol/L"),
        pytest.param("calcium", "mEq/L", 20.04, id="Units: mEq/L is meq/L"),
        pytest.param("egfr", "ml/min/{1.73_m2}", 10.0, id="Units: ml/min/{1.73_m2} is the eGFR unit"),
        pytest.param("vitamin-d", "NG/ML", 10.0, id="Units: NG/ML is ng/mL"),
    ],
)
def test_ucum_case_variants_are_the_same_unit(
    terminology: Terminology, measured: str, code: str, expected: float
) -> None:
    read = _read(terminology, measured, quantity(10.0, code, code=code))
    assert isinstance(read, CanonicalValue)
    assert read.value == pytest.approx(expected, rel=1e-3)


def test_a_case_variant_of_the_canonical_unit_is_not_a_conversion(terminology: Terminology) -> None:
    read = _read(terminology, "calcium", quantity(9.5, "mg/dl", code="mg/dl"))
    assert isinstance(read, CanonicalValue)
    assert (read.value, read.converted) == (9.5, False)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param(
            quantity(2.5, "mmol/L"), 10.02, id="Units: no UCUM code, the human unit is a UCUM code: used"
        ),
        pytest.param(
            quantity(2.5, "mmol/L", code="MMOLL", system="http://example.org/units"),
            10.02,
            id="Units: a code outside UCUM is not matched, the UCUM human unit is",
        ),
        pytest.param(
            quantity(9.5, "millimoles per litre", code="mg/dL"),
            9.5,
            id="Units: the UCUM code wins over the human unit",
        ),
    ],
)
def test_the_ucum_code_is_matched_and_the_unit_only_as_a_fallback(
    terminology: Terminology, written: dict[str, object], expected: float
) -> None:
    read = _read(terminology, "calcium", written)
    assert isinstance(read, CanonicalValue)
    assert read.value == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("measured", "written", "reason"),
    [
        pytest.param(
            "calcium",
            quantity(9.5, "mg/dL", code="mg"),
            "unknown unit 'mg'",
            id="§3 an unknown UCUM code is unusable even when the human unit is known",
        ),
        pytest.param(
            "creatinine",
            quantity(110, "µmol/L"),
            "unknown unit 'µmol/L'",
            id="§3 a human unit that is not a UCUM code is never guessed",
        ),
        pytest.param(
            "creatinine",
            quantity(1.1, "mmol/L", code="mmol/L"),
            "unknown unit 'mmol/L'",
            id="§3 a UCUM unit that is not one of the analyte's is unknown",
        ),
        pytest.param(
            "egfr",
            quantity(55, "mL/min", code="mL/min"),
            "unknown unit 'mL/min'",
            id="§3 eGFR without the 1.73 m2 normalisation is unknown",
        ),
        pytest.param("calcium", quantity(9.5, None), "no unit", id="§3 a value without a unit"),
        pytest.param("calcium", {"unit": "mg/dL"}, "no numeric value", id="§3 a Quantity without a value"),
        pytest.param(
            "calcium",
            quantity(9.5, "mg/dL", code="mg/dL", comparator="ad"),
            "unknown comparator 'ad'",
            id="§6.28 only <, <=, >=, > are comparators",
        ),
    ],
)
def test_what_cannot_be_read_says_why(
    terminology: Terminology, measured: str, written: dict[str, object], reason: str
) -> None:
    assert _read(terminology, measured, written) == Unreadable(reason)
