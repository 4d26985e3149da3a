"""§2 feature table and the §6 decisions about features, one row per phrasing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cds_service.clinical.evaluation import Depth, FindingType, Laterality, ReportReading
from tests.unit.report.conftest import read

Check = Callable[[ReportReading], Any]


def size(expected: float | None) -> Check:
    return lambda r: r.features.size_cm == expected


def depth(expected: Depth) -> Check:
    return lambda r: r.features.depth is expected


def side(expected: Laterality) -> Check:
    return lambda r: r.features.laterality is expected


def flag(name: str, expected: bool = True) -> Check:
    return lambda r: getattr(r.features, name) is expected


def history(*expected: str) -> Check:
    return lambda r: set(expected) <= r.features.history


def no_history(*absent: str) -> Check:
    return lambda r: not set(absent) & r.features.history


def typed(expected: FindingType | None, *entities: str) -> Check:
    return lambda r: r.finding_type is expected and set(entities) <= r.benign_entities


def pattern(kind: str, name: str, expected: bool = True) -> Check:
    return lambda r: (name in getattr(r.features, f"{kind}_patterns")) is expected


def location(name: str) -> Check:
    return lambda r: name in r.features.locations


ROWS: list[tuple[str, Check, str]] = [
    # size (§2, §6.32)
    ("A 5.2 cm calcification in the thigh.", size(5.2), "§2 size cm"),
    ("A 52 mm calcified mass in the thigh.", size(5.2), "§2 size mm"),
    ("Calcified mass measuring 3 x 2.1 x 6 cm in the calf.", size(6.0), "§2 size largest of three"),
    ("Calcification measuring 40 x 55 x 20 mm.", size(5.5), "§6.32 size '40 x 55 x 20 mm'"),
    ("3.4CM calcification posterior to the knee.", size(3.4), "§6.32 size '3.4CM'"),
    ("9mm calcific focus in the fat.", size(0.9), "§6.32 size '9mm'"),
    ("Calcification measuring 1.2 by 0.8 cm.", size(1.2), "§2 size 'by'"),
    ("Calcification 3 cm proximal to the ankle joint.", size(None), "§2 size: a distance is not a size"),
    (
        "Joint space narrowed to 2 mm; a 1 cm calcification in the calf.",
        size(1.0),
        "§2 size of the calcification, not the joint space",
    ),
    ("There is a soft tissue mass in the thigh. It measures 6.5 cm.", size(6.5), "§2 size of the mass"),
    ("Knee effusion of 2 cm. Tiny calcification.", size(None), "§2 size: another structure"),
    # depth (§2, §6.2, §6.5)
    ("Calcification deep to the fascia.", depth(Depth.DEEP), "§2 depth deep to the fascia"),
    ("Intramuscular calcification in the thigh.", depth(Depth.DEEP), "§2 depth intramuscular"),
    ("Calcification within the gastrocnemius.", depth(Depth.DEEP), "§2 depth named muscle"),
    ("Subcutaneous calcification over the shin.", depth(Depth.SUPERFICIAL), "§2 depth subcutaneous"),
    ("Dermal calcification.", depth(Depth.SUPERFICIAL), "§2 depth dermal"),
    ("Calcification is superficial, not deep.", depth(Depth.SUPERFICIAL), "§6.2 'not deep' does not count"),
    ("Calcification in the calf.", depth(Depth.UNKNOWN), "§2 depth unknown"),
    (
        "Intramuscular myositis ossificans following injury.",
        depth(Depth.UNKNOWN),
        "§6.5 intramuscular is intrinsic to myositis ossificans",
    ),
    (
        "Calcification in the Achilles tendon consistent with calcific tendinitis.",
        depth(Depth.UNKNOWN),
        "§6.5 intratendinous is intrinsic to calcific tendinitis",
    ),
    ("Calcification of the gastrocnemius tendon.", depth(Depth.UNKNOWN), "§6.5 a tendon is not the muscle"),
    # laterality (§6.9, §6.15, §6.32)
    ("Calcification in the Lt calf.", side(Laterality.LEFT), "§6.32 Lt"),
    ("Calcification in the Rt thigh.", side(Laterality.RIGHT), "§6.32 Rt"),
    ("Calcification in the R calf.", side(Laterality.RIGHT), "§6.32 R before a limb word"),
    ("Calcifications in the L and R knees.", side(Laterality.BILATERAL), "§6.32 'L and R knees'"),
    (
        "Calcification in the left calf and in the right thigh.",
        side(Laterality.BILATERAL),
        "§6.15 both sides described",
    ),
    ("Bilateral calf calcifications.", side(Laterality.BILATERAL), "§6.15 bilateral"),
    (
        "Left calf calcification, with bilateral knee osteoarthritis.",
        side(Laterality.LEFT),
        "§6.26 bilateral about another finding",
    ),
    # multiplicity (§6.14, §6.26)
    ("Multiple calcifications in the calf.", flag("multiplicity"), "§6.14 multiple"),
    ("Numerous small calcific foci.", flag("multiplicity"), "§6.14 numerous"),
    ("Extensive soft tissue calcification.", flag("multiplicity"), "§6.14 extensive"),
    ("Several calcifications in the thigh.", flag("multiplicity"), "§6.26 several"),
    ("A few calcific densities in the calf.", flag("multiplicity"), "§6.26 a few"),
    ("Two calcifications in the soleus.", flag("multiplicity"), "§6.26 a count of two"),
    ("3 calcified foci in the fat.", flag("multiplicity"), "§6.26 a count in digits"),
    ("Calcifications in both calves.", flag("multiplicity"), "§6.26 both sides"),
    ("Two views of the knee show a calcification.", flag("multiplicity", False), "§6.26 'two views'"),
    ("Scattered calcifications in the calf.", flag("multiplicity", False), "§6.26 'scattered' alone"),
    ("A cluster of calcifications in the calf.", flag("multiplicity", False), "§6.26 'a cluster of'"),
    ("Multiple phleboliths in the calf.", flag("multiplicity", False), "§6.14 plural benign entity"),
    (
        "Left calf calcification, with bilateral knee osteoarthritis.",
        flag("multiplicity", False),
        "§6.26 one-sided finding",
    ),
    # mass (§2, §6.2, §6.16)
    ("Calcification with an associated soft tissue mass.", flag("associated_mass"), "§2 associated mass"),
    ("Calcified mass in the thigh.", flag("associated_mass"), "§2 calcified mass"),
    ("Calcification in the calf. No soft tissue mass.", flag("associated_mass", False), "§2 'no mass'"),
    ("Calcification without mass effect.", flag("associated_mass", False), "§2 mass effect is not a mass"),
    # bone involvement (§2, §6.2)
    ("Calcification with cortical erosion of the tibia.", flag("bone_involvement"), "§2 cortical erosion"),
    ("Adjacent periosteal reaction.", flag("bone_involvement"), "§2 periosteal reaction"),
    (
        "Calcification. No periosteal reaction or cortical erosion.",
        flag("bone_involvement", False),
        "§6.2 no periosteal reaction",
    ),
    ("Calcification with osseous destruction.", flag("bone_involvement"), "§2 osseous destruction"),
    # growth (§2, §6.21)
    ("The calcification is enlarging.", flag("growth"), "§2 growth enlarging"),
    ("The calcified mass has increased in size.", flag("growth"), "§2 growth increased in size"),
    ("Interval increase in the calcification.", flag("growth"), "§2 growth interval increase"),
    ("The calcification is not increasing in size.", flag("growth", False), "§6.21 not increasing"),
    ("No interval increase in size of the calcification.", flag("growth", False), "§6.21 no increase"),
    ("Calcification, not enlarging.", flag("growth", False), "§6.2 not enlarging"),
    # painful mass (§6.25)
    (
        "HISTORY: Tender lump behind the knee.\nFINDINGS: Calcification in the popliteal fossa.",
        flag("painful_mass"),
        "§6.25 tender lump in the indication",
    ),
    (
        "HISTORY: Pain. Palpable swelling in the calf.\nFINDINGS: Calcification.",
        flag("painful_mass"),
        "§6.25 pain and palpable swelling anywhere in the indication",
    ),
    ("HISTORY: Knee pain.\nFINDINGS: Calcification.", flag("painful_mass", False), "§6.25 pain alone"),
    (
        "HISTORY: Painless lump in the calf.\nFINDINGS: Calcification.",
        flag("painful_mass", False),
        "§6.25 painless is not pain",
    ),
    (
        "HISTORY: Fall, painful hard swelling of the shin.\nFINDINGS: Calcification.",
        flag("painful_mass", False),
        "§6.25 swelling beside an injury",
    ),
    (
        "HISTORY: Painful diffuse swelling of the leg.\nFINDINGS: Calcification.",
        flag("painful_mass", False),
        "§6.25 diffuse swelling",
    ),
    ("HISTORY: Pain and oedema.\nFINDINGS: Calcification.", flag("painful_mass", False), "§6.25 oedema"),
    # patterns (§2, §6.24)
    ("Stippled calcification in the thigh.", pattern("concerning", "stippled"), "§2 concerning stippled"),
    ("Ring-and-arc calcification.", pattern("concerning", "ring-and-arc"), "§2 concerning ring-and-arc"),
    (
        "Cloud-like calcification in the thigh.",
        pattern("concerning", "cloud-like"),
        "§2 concerning cloud-like",
    ),
    ("Laminated calcification.", pattern("benign", "laminated"), "§2 benign laminated"),
    ("Tram-track arterial calcification.", pattern("benign", "tram-track"), "§2 benign tram-track"),
    (
        "No aggressive features. Calcification in the calf.",
        pattern("concerning", "aggressive", False),
        "§6.2 no aggressive features",
    ),
    (
        "Amorphous calcification at the gluteus medius insertion, calcific tendinitis.",
        pattern("concerning", "amorphous", False),
        "§6.24 amorphous calcific tendinitis",
    ),
    (
        "Amorphous calcification in the thigh, likely tumoral calcinosis.",
        pattern("concerning", "amorphous"),
        "§6.24 amorphous tumoral calcinosis stays concerning",
    ),
    # locations (§2)
    (
        "Intra-articular calcification in the knee.",
        location("intra-articular"),
        "§2 location intra-articular",
    ),
    ("Periarticular calcification at the ankle.", location("periarticular"), "§2 location periarticular"),
    ("Calcification within the patellar tendon.", location("intratendinous"), "§2 location intratendinous"),
    ("Vessel wall calcification.", location("vascular"), "§2 location vascular"),
    # malignancy (§6.3, §6.16, §6.30)
    ("Calcified mass, suspicious for sarcoma.", flag("suspected_malignancy"), "§6.3 suspicious for sarcoma"),
    ("Calcification; malignancy is not excluded.", flag("suspected_malignancy"), "§6.3 not excluded"),
    ("Calcification. No evidence of malignancy.", flag("suspected_malignancy", False), "§6.3 negated"),
    ("Calcified lipoma in the thigh.", flag("suspected_malignancy", False), "§6.16 lipoma"),
    ("Calcification, likely a benign tumour.", flag("suspected_malignancy", False), "§6.16 benign tumour"),
    ("Calcification. Refer to the sarcoma team.", flag("suspected_malignancy", False), "§6.30 team name"),
    (
        "Calcification. Tumour-protocol MRI recommended.",
        flag("suspected_malignancy", False),
        "§6.30 word in a recommended action",
    ),
    (
        "Metastatic calcification in a dialysis patient.",
        flag("suspected_malignancy", False),
        "§6.30 metastatic calcification is a mechanism",
    ),
    ("Calcification. MRI to exclude sarcoma.", flag("suspected_malignancy"), "§6.30 'to exclude sarcoma'"),
    (
        "Calcification. Refer to sarcoma team; concern for sarcoma.",
        flag("suspected_malignancy"),
        "§6.30 uncertainty cue in a recommendation",
    ),
    # nature unclear (§6.35)
    ("Ossific density in the thigh.", flag("nature_unclear"), "§6.35 ossific"),
    ("Mineralised focus in the calf.", flag("nature_unclear"), "§6.35 mineralised without saying which"),
    ("Calcification in the calf.", flag("nature_unclear", False), "§6.35 calcification is clear"),
    ("Soft tissue density ?calcification ?ossification.", flag("nature_unclear"), "§6.35 '?' on its nature"),
    # history (§6.29, §6.34)
    ("HISTORY: ESRF on dialysis.\nFINDINGS: Calcification.", history("ckd"), "§6.29 ESRF and dialysis"),
    ("HISTORY: CKD stage 4.\nFINDINGS: Calcification.", history("ckd"), "§6.29 CKD"),
    (
        "HISTORY: No history of renal failure.\nFINDINGS: Calcification.",
        no_history("ckd"),
        "§6.29 negation applies",
    ),
    ("HISTORY: Fall two weeks ago.\nFINDINGS: Calcification.", history("trauma"), "§6.34 trauma"),
    (
        "Hx: s/p ORIF tibial fracture.\nFINDINGS: Calcification.",
        history("surgery", "fracture"),
        "§6.32 hx and s/p",
    ),
    (
        "HISTORY: Calcium gluconate extravasation.\nFINDINGS: Calcification.",
        history("calcium-injection"),
        "§2 calcium injection",
    ),
    (
        "HISTORY: Dermatomyositis.\nFINDINGS: Calcification.",
        history("connective-tissue"),
        "§6.34 connective tissue disease",
    ),
    ("HISTORY: Cellulitis.\nFINDINGS: Calcification.", history("inflammation"), "§6.34 inflammation"),
    ("HISTORY: Previous haematoma.\nFINDINGS: Calcification.", history("haematoma"), "§2 haematoma"),
    ("FINDINGS: No fracture. Calcification.", no_history("fracture"), "§6.2 'no fracture' is no history"),
    # benign entities and type (§2, §6.4, §6.20, §6.33)
    (
        "Small rounded densities, likely phleboliths.",
        typed(FindingType.SPECIFIC_BENIGN, "phlebolith"),
        "§6.20 same-sentence phleboliths",
    ),
    (
        "Vascular calcification in the popliteal artery.",
        typed(FindingType.SPECIFIC_BENIGN, "vascular"),
        "§2 vascular calcification",
    ),
    (
        "Infrapopliteal calcification of the tibial arteries.",
        typed(FindingType.SPECIFIC_BENIGN, "vascular"),
        "§2 vascular: an artery name inside a longer word hides no later phrase",
    ),
    (
        "Suprafemoral calcification of the popliteal artery.",
        typed(FindingType.SPECIFIC_BENIGN, "vascular"),
        "§2 vascular: 'femoral calcification' inside 'suprafemoral' is no phrase of its own",
    ),
    (
        "Chondrocalcinosis of the knee menisci.",
        typed(FindingType.SPECIFIC_BENIGN, "chondrocalcinosis"),
        "§2 chondrocalcinosis",
    ),
    (
        "Peritrochanteric calcification at the gluteus medius tendon insertion.",
        typed(FindingType.SPECIFIC_BENIGN, "calcific-tendinitis"),
        "§6.19 peritrochanteric insertion",
    ),
    (
        "HISTORY: Fall.\nFINDINGS: A 2 cm calcified focus in the soleus.\n"
        "IMPRESSION: Myositis ossificans after the injury.",
        typed(FindingType.SPECIFIC_BENIGN, "myositis-ossificans"),
        "§6.20 impression names the lesion",
    ),
    (
        "FINDINGS: Myositis ossificans in the thigh.",
        typed(FindingType.NON_SPECIFIC, "myositis-ossificans"),
        "§2 myositis ossificans without trauma history",
    ),
    (
        "Vascular calcification. Separately, a calcification in the subcutaneous fat of the shin.",
        typed(FindingType.NON_SPECIFIC, "vascular"),
        "§6.4 separate lesion makes it type N",
    ),
    (
        "FINDINGS: Calcified femoral artery. Focus of calcification in the subcutaneous fat of the shin.\n"
        "IMPRESSION: Vascular calcification.",
        typed(FindingType.NON_SPECIFIC),
        "§6.33 another site",
    ),
    (
        "Non-specific calcification in the calf and phleboliths.",
        typed(FindingType.NON_SPECIFIC),
        "§6.4 mixed report is type N",
    ),
]


@pytest.mark.parametrize(("text", "check"), [row[:2] for row in ROWS], ids=[row[2] for row in ROWS])
def test_feature(text: str, check: Check) -> None:
    reading = read(text)
    assert check(reading), (reading.finding_type, reading.benign_entities, reading.features)


def test_ossification_needs_history_when_only_history_is_missing() -> None:
    reading = read("Myositis ossificans in the vastus lateralis.")
    assert reading.finding_type is FindingType.NON_SPECIFIC
    assert reading.ossification_needs_history


def test_exam_side_is_the_finding_side_when_the_finding_has_none() -> None:
    """§6.9: a finding without a side takes the exam's side."""
    reading = read("Calcification in the calf.", code="XR TIBIA FIBULA LEFT")
    assert reading.features.exam_laterality is Laterality.LEFT
    assert reading.features.laterality is Laterality.LEFT


def test_finding_side_wins_over_exam_side() -> None:
    reading = read("Calcification in the right calf.", code="XR BILATERAL KNEES")
    assert reading.features.exam_laterality is Laterality.BILATERAL
    assert reading.features.laterality is Laterality.RIGHT


def test_evidence_pairs_name_feature_and_sentence() -> None:
    reading = read("A 6 cm calcified mass deep to the fascia.")
    features = {feature for feature, _ in reading.features.evidence}
    assert {"finding", "associated mass"} <= features
    assert all(
        sentence == "A 6 cm calcified mass deep to the fascia." for _, sentence in reading.features.evidence
    )


def test_entity_set_apart_does_not_name_the_other_lesion() -> None:
    """§6.20: "separately ... likely phleboliths" keeps the phleboliths apart from the calcification."""
    reading = read(
        "FINDINGS: A 4 cm calcification within the gastrocnemius. Separately, small rounded densities in "
        "the subcutaneous fat of the lower leg, likely phleboliths.\n"
        "IMPRESSION: Intramuscular calcification in the calf. Phleboliths."
    )
    assert reading.finding_type is FindingType.NON_SPECIFIC
    assert reading.features.depth is Depth.DEEP
