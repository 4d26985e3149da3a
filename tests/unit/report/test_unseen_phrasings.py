"""Phrasings the reader was not written against (clinical-rules.md §1, §2, §6).

The spec's phrase lists are examples of how radiologists write; these rows are other ways of
writing the same things. One row per phrasing; the id names the spec line. Each expected value
is read from the spec, not from what the reader happens to do.
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.evaluation import Assertion, Depth, FindingType, Laterality
from tests.unit.report.conftest import read, report
from tests.unit.report.test_features import (
    Check,
    depth,
    flag,
    history,
    no_history,
    pattern,
    side,
    size,
    typed,
)
from tests.unit.report.test_scope import scope_of

P, Q, N, R = Assertion.PRESENT, Assertion.POSSIBLE, Assertion.NEGATED, Assertion.RESOLVED

ASSERTIONS: list[tuple[str, Assertion, str]] = [
    # negated (§2)
    (
        "There is no radiographic evidence of soft tissue calcification in the calf.",
        N,
        "§2 negated 'no radiographic evidence of' with a site",
    ),
    (
        "The soft tissues are unremarkable, without evidence of calcification.",
        N,
        "§2 negated 'unremarkable, without evidence of'",
    ),
    ("No soft tissue calcification is appreciated.", N, "§2 negated 'no ... is appreciated'"),
    ("No abnormal soft tissue mineralization.", N, "§2 negated 'no abnormal' American spelling"),
    ("No abnormal soft tissue mineralisation is seen.", N, "§2 negated 'no abnormal' British spelling"),
    ("No calcific densities are identified in the soft tissues.", N, "§2 negated 'no ... identified'"),
    ("Soft tissue calcification is not demonstrated.", N, "§2 negated 'not demonstrated'"),
    ("No calcification was detected in the thigh.", N, "§2 negated 'no ... was detected'"),
    ("Calcification is not present in the soft tissues.", N, "§2 negated 'not present'"),
    ("Calcification is not convincingly seen.", N, "§2 negated 'not convincingly seen'"),
    ("Calcification not definitely seen.", N, "§2 negated 'not definitely seen' like 'no definite'"),
    ("Soft tissues: no calcification.", N, "§6.31 'no' after a label that names no section"),
    # possible (§2, §6.32)
    ("The density in the calf could reflect calcification.", Q, "§2 possible 'could reflect'"),
    ("The opacity in the thigh likely represents calcification.", Q, "§2 possible 'likely represents'"),
    (
        "Differential diagnosis includes soft tissue calcification and a foreign body.",
        Q,
        "§2 possible 'differential diagnosis includes'",
    ),
    ("Cannot rule out early soft tissue calcification.", Q, "§2 possible 'cannot rule out'"),
    ("Calcification cannot be ruled out.", Q, "§2 possible 'cannot be ruled out'"),
    ("Questionable faint calcification posterior to the knee.", Q, "§2 possible 'questionable faint'"),
    ("? calcification in the medial ankle soft tissues.", Q, "§6.32 '? ' directly before"),
    ("Faint density, possibly calcification.", Q, "§2 possible 'possibly'"),
    (
        "Findings raise the possibility of early soft tissue calcification.",
        Q,
        "§2 possible 'raise the possibility of'",
    ),
    ("Appearance is concerning for soft tissue calcification.", Q, "§2 possible 'concerning for'"),
    ("Calcification is suggested in the calf.", Q, "§2 possible 'is suggested'"),
    ("Calcification (?) posterior to the knee.", Q, "§6.32 '(?)' directly after"),
    ("Calcification cannot be confidently excluded.", Q, "§2 possible 'cannot be confidently excluded'"),
    ("A calcification cannot be entirely excluded.", Q, "§2 possible 'cannot be entirely excluded'"),
    ("Subtle calcification may be present in the calf.", Q, "§2 possible 'may be present'"),
    # resolved (§2, §6.21)
    (
        "Previously described calcification is no longer evident.",
        R,
        "§2 resolved 'no longer evident'",
    ),
    (
        "There has been interval resolution of the calcific focus in the thigh.",
        R,
        "§2 resolved 'there has been interval resolution of'",
    ),
    ("The previously noted calcification has completely resolved.", R, "§2 resolved 'completely resolved'"),
    (
        "The calcification seen on the prior study is no longer visible.",
        R,
        "§2 resolved 'no longer visible'",
    ),
    (
        "The calf calcification has disappeared since the prior radiograph.",
        R,
        "§2 resolved 'has disappeared'",
    ),
    ("The calcification has since cleared.", R, "§2 resolved 'has since cleared'"),
    # pseudo-negations (§2)
    ("A small focus of calcification in the calf is not excluded.", Q, "§2 pseudo 'is not excluded'"),
    (
        "No significant interval change in the calcification.",
        P,
        "§2 pseudo 'no significant interval change'",
    ),
    ("Stable calcification in the posterior thigh soft tissues.", P, "§2 pseudo 'stable' first word"),
    (
        "The calcification is unchanged compared with the prior study.",
        P,
        "§2 pseudo 'is unchanged compared with'",
    ),
    ("Again seen is the calcification medial to the knee.", P, "§2 'again seen is'"),
    ("Previously seen calcification in the thigh persists.", P, "§2 'previously seen ... persists'"),
    # mixed clauses (§6.21)
    (
        "No fracture; however there is soft tissue calcification in the calf.",
        P,
        "§6.21 negation ends at '; however'",
    ),
    (
        "No joint effusion, although there is calcification in the popliteal fossa.",
        P,
        "§6.21 negation ends at 'although'",
    ),
    (
        "No acute osseous abnormality. Soft tissue calcification is present in the thigh.",
        P,
        "§6.21 negation ends with the sentence, 'is present'",
    ),
    (
        "No effusion or fracture, whereas calcification is noted in the calf.",
        P,
        "§6.21 negation ends at 'whereas'",
    ),
    (
        "No fracture is identified; there is, however, soft tissue calcification in the calf.",
        P,
        "§6.21 negation ends at ';' with ', however,'",
    ),
    ("The bones are intact and there is calcification in the thigh.", P, "§6.21 'and there is'"),
    ("No soft tissue swelling or calcification.", N, "§6.21 negation runs through 'or'"),
    # new, persisting and residual findings are present (§2)
    ("Calcification, not previously seen, in the calf.", P, "§2 'not previously seen' is a new finding"),
    (
        "New calcification in the calf, not present on the prior study.",
        P,
        "§2 'not present on the prior study' is a new finding",
    ),
    ("Calcification in the calf which was not present previously.", P, "§2 'not present previously'"),
    ("Calcification, which has not changed.", P, "§2 pseudo 'has not changed'"),
    ("The calcification is smaller but still present.", P, "§2 smaller but still present"),
    ("Some residual calcification remains.", P, "§2 residual calcification is still there"),
    ("Calcification is unlikely.", N, "§2 negated 'is unlikely'"),
    ("Artefact rather than calcification.", N, "§2 negated 'rather than'"),
    # spelling (§2)
    ("Mineralisation in the soft tissues of the calf.", P, "§2 present British 'mineralisation'"),
    ("Calcified haematoma in the thigh.", P, "§2 present British 'haematoma'"),
    ("Calcified hematoma in the thigh.", P, "§2 present American 'hematoma'"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [row[:2] for row in ASSERTIONS], ids=[row[2] for row in ASSERTIONS]
)
def test_unseen_assertion(text: str, expected: Assertion) -> None:
    reading = read(text)
    assert reading.mentions, f"no mention found in {text!r}"
    assert reading.mentions[0].assertion is expected, reading.mentions
    assert reading.finding_counts is expected.counts


MO_AFTER_TRAUMA = (
    "HISTORY: Football injury to the thigh six weeks ago.\nFINDINGS: Myositis ossificans in the quadriceps."
)

FEATURES: list[tuple[str, Check, str]] = [
    # size (§2, §6.32)
    ("Calcification in the calf measuring up to 2.3 cm.", size(2.3), "§2 size 'measuring up to'"),
    ("Calcified focus measuring 1.5 x 0.8 cm.", size(1.5), "§2 size two dimensions"),
    ("12mm calcification in the thigh.", size(1.2), "§6.32 size '12mm'"),
    (
        "Calcification approximately 6 cm in greatest dimension.",
        size(6.0),
        "§2 size 'approximately ... in greatest dimension'",
    ),
    ("Calcific focus measuring 14 x 22 mm in the calf.", size(2.2), "§6.32 size two dimensions in mm"),
    ("Calcification measuring 2.1 x 3.4 x 1.0 cm.", size(3.4), "§2 size largest not last"),
    # depth (§2)
    (
        "Calcification in the deep soft tissues of the thigh.",
        depth(Depth.DEEP),
        "§2 depth 'deep soft tissues'",
    ),
    (
        "Calcification in the subcutaneous tissues of the calf.",
        depth(Depth.SUPERFICIAL),
        "§2 depth 'subcutaneous tissues'",
    ),
    ("Calcification within the soleus muscle.", depth(Depth.DEEP), "§2 depth within a named muscle"),
    (
        "Superficial soft tissue calcification anterior to the patella.",
        depth(Depth.SUPERFICIAL),
        "§2 depth 'superficial soft tissue'",
    ),
    # laterality (§6.9, §6.15, §6.32)
    ("Calcification in the Rt ankle soft tissues.", side(Laterality.RIGHT), "§6.32 'Rt ankle'"),
    ("Calcification in the left lower extremity.", side(Laterality.LEFT), "§1 'left lower extremity'"),
    ("Calcification in the L ankle.", side(Laterality.LEFT), "§6.32 L before a limb word"),
    (
        "Calcifications in the right and left calves.",
        side(Laterality.BILATERAL),
        "§6.15 'right and left calves'",
    ),
    (
        "Calcification in the soft tissues of both thighs.",
        side(Laterality.BILATERAL),
        "§6.15 'both thighs'",
    ),
    # concerning patterns (§2)
    ("Amorphous calcification in the posterior thigh.", pattern("concerning", "amorphous"), "§2 amorphous"),
    ("Eccentric calcification in the calf.", pattern("concerning", "eccentric"), "§2 eccentric"),
    (
        "Chondroid calcification in the thigh soft tissues.",
        pattern("concerning", "chondroid"),
        "§2 chondroid",
    ),
    (
        "Calcification in the calf with aggressive features.",
        pattern("concerning", "aggressive"),
        "§2 'aggressive features'",
    ),
    (
        "Calcification in the calf without aggressive features.",
        pattern("concerning", "aggressive", False),
        "§6.2 'without aggressive features'",
    ),
    # associated mass (§2, §6.2)
    (
        "Calcification in the thigh, no associated soft tissue mass.",
        flag("associated_mass", False),
        "§6.2 'no associated soft tissue mass'",
    ),
    (
        "Calcification in the calf with an associated mass.",
        flag("associated_mass"),
        "§2 'with an associated mass'",
    ),
    (
        "A calcified soft tissue mass in the posterior calf.",
        flag("associated_mass"),
        "§2 'calcified soft tissue mass'",
    ),
    (
        "Calcification with an associated soft tissue component.",
        flag("associated_mass"),
        "§2 'associated soft tissue component' is a mass",
    ),
    # bone involvement (§2, §6.2)
    (
        "Calcification in the calf without periosteal reaction.",
        flag("bone_involvement", False),
        "§6.2 'without periosteal reaction'",
    ),
    (
        "Soft tissue calcification abutting the fibula, with cortical erosion.",
        flag("bone_involvement"),
        "§2 'with cortical erosion'",
    ),
    (
        "Calcified mass with destruction of the adjacent tibia.",
        flag("bone_involvement"),
        "§2 'destruction of the adjacent' bone",
    ),
    # growth (§2, §6.2, §6.21)
    (
        "The calcification has increased in size since the prior study.",
        flag("growth"),
        "§2 'has increased in size since'",
    ),
    (
        "The calcification is not enlarged compared with the prior study.",
        flag("growth", False),
        "§6.2 'not enlarged'",
    ),
    ("The calcified mass has grown since the previous radiograph.", flag("growth"), "§2 'has grown'"),
    ("Increasing calcification in the thigh.", flag("growth"), "§2 'increasing calcification'"),
    (
        "The calcification may have increased slightly in size.",
        flag("growth"),
        "§6.2 possible growth 'increased slightly in size' counts",
    ),
    (
        "The calcification has not increased significantly in size.",
        flag("growth", False),
        "§6.21 'not increased significantly' negates growth",
    ),
    (
        "Calcification in the calf. No cortical erosion or periosteal reaction is seen.",
        flag("bone_involvement", False),
        "§6.2 negated bone involvement list",
    ),
    (
        "Calcification in the calf. Cortical erosion is not excluded.",
        flag("bone_involvement"),
        "§6.2 possible cortical erosion counts",
    ),
    (
        "Calcification with possible chondroid matrix.",
        pattern("concerning", "chondroid"),
        "§6.2 possible chondroid pattern counts",
    ),
    (
        "Calcification in the calf, not stippled.",
        pattern("concerning", "stippled", False),
        "§6.2 'not stippled'",
    ),
    ("Calcified mass measuring approx. 7.5 cm.", size(7.5), "§2 size after 'approx.'"),
    ("Calcification measures 0.5 x 0.5 x 0.4 cm.", size(0.5), "§2 size equal dimensions"),
    (
        "Increased soft tissue calcification compared with the prior study.",
        flag("growth"),
        "§2 'increased ... calcification compared with the prior'",
    ),
    (
        "HISTORY: Increasing pain.\nFINDINGS: Calcification in the calf.",
        flag("growth", False),
        "§2 increasing pain is not growth",
    ),
    ("Calcification in the calf, stable in size.", flag("growth", False), "§2 'stable in size' is no growth"),
    # malignancy (§6.3, §6.16, §6.30)
    (
        "Calcified mass; sarcoma cannot be excluded.",
        flag("suspected_malignancy"),
        "§6.3 'sarcoma cannot be excluded'",
    ),
    ("Calcified mass, possibly a neoplasm.", flag("suspected_malignancy"), "§6.3 'possibly a neoplasm'"),
    (
        "Calcification in the thigh. No features to suggest malignancy.",
        flag("suspected_malignancy", False),
        "§6.3 'no features to suggest malignancy'",
    ),
    (
        "Calcification. Malignancy is considered unlikely.",
        flag("suspected_malignancy", False),
        "§6.3 'is considered unlikely' negates",
    ),
    (
        "Calcification. Sarcoma is felt to be highly unlikely.",
        flag("suspected_malignancy", False),
        "§6.3 'is felt to be highly unlikely' negates",
    ),
    (
        "Calcification in the thigh. Findings discussed with the sarcoma service.",
        flag("suspected_malignancy", False),
        "§6.30 service name",
    ),
    ("Calcified haemangioma in the calf.", flag("suspected_malignancy", False), "§6.16 haemangioma"),
    ("Tumoral calcinosis about the hip.", flag("suspected_malignancy", False), "§6.16 tumoral calcinosis"),
    # benign entities (§2, §6.4, §6.5)
    (
        "Linear arterial calcification of the superficial femoral artery.",
        typed(FindingType.SPECIFIC_BENIGN, "vascular"),
        "§2 arterial calcification",
    ),
    (
        "Calcification within the Achilles tendon, in keeping with calcific tendinopathy.",
        typed(FindingType.SPECIFIC_BENIGN, "calcific-tendinitis"),
        "§2 calcific tendinopathy",
    ),
    (
        "Multiple small phleboliths in the calf soft tissues.",
        typed(FindingType.SPECIFIC_BENIGN, "phlebolith"),
        "§2 phleboliths",
    ),
    (
        MO_AFTER_TRAUMA,
        typed(FindingType.SPECIFIC_BENIGN, "myositis-ossificans"),
        "§2 myositis ossificans after trauma",
    ),
    (
        MO_AFTER_TRAUMA,
        depth(Depth.UNKNOWN),
        "§6.5 myositis ossificans in a muscle is not deep",
    ),
    (
        "HISTORY: Kicked in the thigh two months ago.\n"
        "FINDINGS: Calcified mass in the vastus lateralis, consistent with myositis ossificans.",
        depth(Depth.UNKNOWN),
        "§6.20 a calcified mass named myositis ossificans in the same sentence is not deep",
    ),
    (
        "Phleboliths in the calf. Separately, a non-specific calcification in the thigh.",
        typed(FindingType.NON_SPECIFIC),
        "§6.4 phleboliths and a separate non-specific calcification",
    ),
    # multiplicity (§6.14, §6.26)
    ("Innumerable calcific foci in the thigh soft tissues.", flag("multiplicity"), "§6.14 'innumerable'"),
    ("Widespread soft tissue calcification in the legs.", flag("multiplicity"), "§6.14 'widespread'"),
    ("Four calcified foci in the calf.", flag("multiplicity"), "§6.26 count 'four'"),
    (
        "Multiple small phleboliths in the calf soft tissues.",
        flag("multiplicity", False),
        "§6.14 'multiple phleboliths' is not multiplicity",
    ),
    (
        "HISTORY: Calf pain for several months.\nFINDINGS: A calcification in the calf.",
        flag("multiplicity", False),
        "§6.26 'several months'",
    ),
    (
        "Calcifications in the right and left calves.",
        flag("multiplicity"),
        "§6.26 described on both sides",
    ),
    ("Calcifications in the calf, multiple.", flag("multiplicity"), "§6.14 'multiple' after the noun"),
    (
        "Calcification in the calf, multiple views obtained.",
        flag("multiplicity", False),
        "§6.26 'multiple views' after the noun",
    ),
    # history clues (§2, §6.2, §6.34)
    (
        "HISTORY: Denies injury.\nFINDINGS: Calcification.",
        no_history("trauma"),
        "§6.2 'denies injury' negates",
    ),
    (
        "HISTORY: Patient denies any trauma or surgery.\nFINDINGS: Calcification.",
        no_history("trauma", "surgery"),
        "§6.2 'denies' runs through a list",
    ),
    (
        "HISTORY: Denies trauma but had knee surgery in 2020.\nFINDINGS: Calcification.",
        history("surgery"),
        "§6.21 'denies' ends at 'but'",
    ),
    (
        "HISTORY: Twisted ankle playing football.\nFINDINGS: Calcification.",
        history("trauma"),
        "§6.34 twisted ankle is trauma",
    ),
    ("HISTORY: On haemodialysis.\nFINDINGS: Calcification.", history("ckd"), "§6.29 haemodialysis"),
    (
        "HISTORY: Known systemic sclerosis.\nFINDINGS: Calcification.",
        history("connective-tissue"),
        "§6.34 systemic sclerosis",
    ),
    # painful mass (§6.25)
    (
        "HISTORY: Painful, firm nodule over the shin.\nFINDINGS: Calcification.",
        flag("painful_mass"),
        "§6.25 painful nodule",
    ),
    (
        "HISTORY: Ankle pain, no lump.\nFINDINGS: Calcification.",
        flag("painful_mass", False),
        "§6.25 'no lump'",
    ),
]


@pytest.mark.parametrize(("text", "check"), [row[:2] for row in FEATURES], ids=[row[2] for row in FEATURES])
def test_unseen_feature(text: str, check: Check) -> None:
    reading = read(text)
    assert check(reading), (reading.finding_type, reading.benign_entities, reading.features)


SCOPE: list[tuple[dict[str, Any], bool, str]] = [
    (
        report(
            "INDICATION: Bilateral leg swelling, ?heart failure.\n"
            "FINDINGS: Aortic arch calcification. Lungs clear.",
            code="CHEST PA AND LATERAL",
        ),
        False,
        "§6.23 chest film for leg swelling",
    ),
    (
        report("FINDINGS: Amorphous calcification in the gluteal soft tissues.", code="XR RIGHT HIP 2 VIEWS"),
        True,
        "§6.19 hip film, gluteal calcification",
    ),
    (
        report("FINDINGS: Calcification in the right buttock soft tissues.", code="XR PELVIS AP"),
        True,
        "§6.19 buttock soft tissues",
    ),
    (
        report("FINDINGS: Calcification in the soft tissues of the foot.", code="Radiograph"),
        True,
        "§6.23 finding sentence names the foot",
    ),
    (
        report("CLINICAL DETAILS: Knee pain.\nFINDINGS: Calcification at the elbow.", code="XR ELBOW"),
        False,
        "§6.23 lower-limb word in the history alone",
    ),
    (
        report("FINDINGS: Calcification in the lateral lower extremity soft tissues.", code="XR"),
        True,
        "§1 'lower extremity' in the finding",
    ),
    (
        report(
            "CLINICAL HISTORY: Swollen left leg, ?DVT, shortness of breath.\n"
            "FINDINGS: Calcified aortic knob. No pleural effusion.",
            code="CHEST 2 VIEWS",
        ),
        False,
        "§6.23 chest film, leg in the clinical history",
    ),
    (
        report(
            "HISTORY: Sciatica radiating down the left leg.\nFINDINGS: Calcification in the abdominal aorta.",
            code="XR LUMBAR SPINE",
        ),
        False,
        "§6.23 spine film, leg in the history",
    ),
    (
        report("FINDINGS: Calcification in the popliteal fossa.", code="Radiograph"),
        True,
        "§1 popliteal fossa is the knee",
    ),
    (
        report("FINDINGS: Calcification adjacent to the medial malleolus.", code="Radiograph"),
        True,
        "§1 medial malleolus is the ankle",
    ),
    (
        report(
            "FINDINGS: Calcification in the soft tissues lateral to the greater trochanter.",
            code="XR RIGHT HIP",
        ),
        True,
        "§6.19 greater trochanter",
    ),
]


@pytest.mark.parametrize(("resource", "evaluated"), [row[:2] for row in SCOPE], ids=[row[2] for row in SCOPE])
def test_unseen_scope(resource: dict[str, Any], evaluated: bool) -> None:
    result, reason = scope_of(resource)
    assert result is evaluated, reason
