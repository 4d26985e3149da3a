"""§2 and §6.21/§6.32: how radiologists write present, possible, negated and resolved findings.

One row per phrasing; the id names the spec line. The expected value is the assertion of the
first mention of the finding (a sentence may mention it more than once).
"""

from __future__ import annotations

import pytest

from cds_service.clinical.evaluation import Assertion
from tests.unit.report.conftest import read

P, Q, N, R = Assertion.PRESENT, Assertion.POSSIBLE, Assertion.NEGATED, Assertion.RESOLVED

ROWS = [
    # present
    ("Soft tissue calcification in the left calf.", P, "§2 present plain"),
    (
        "There is a small calcified focus in the subcutaneous fat of the shin.",
        P,
        "§2 present 'calcified focus'",
    ),
    ("Calcific density projected over the medial knee soft tissues.", P, "§2 present 'calcific density'"),
    ("ST calcification lateral to the ankle.", P, "§6.32 ST for soft tissue"),
    ("Mineralization within the soft tissues of the thigh.", P, "§2 present American spelling"),
    ("Ossification in the vastus lateralis.", P, "§2 present ossification"),
    ("Calcinosis of both lower legs.", P, "§2 present calcinosis"),
    ("Findings consistent with soft tissue calcification.", P, "§2 'consistent with' is present"),
    ("Appearances are compatible with dystrophic calcification.", P, "§2 'compatible with' is present"),
    ("In keeping with calcification in a resolving haematoma.", P, "§2 'in keeping with' is present"),
    ("Previously seen calcification in the calf is again noted.", P, "§2 'again seen' is present"),
    ("Unchanged calcification in the popliteal fossa.", P, "§2 pseudo-negation 'unchanged'"),
    ("Stable soft tissue calcification.", P, "§2 pseudo-negation 'stable'"),
    ("No change in the calcification anterior to the tibia.", P, "§2 pseudo-negation 'no change'"),
    ("No interval change in the calcified focus.", P, "§2 pseudo-negation 'no interval change'"),
    ("No significant change in the appearance of the calcification.", P, "§2 pseudo 'no significant change'"),
    ("No increase in size of the calcification.", P, "§6.21 'no increase' negates growth only"),
    ("Not only calcification but also a soft tissue mass.", P, "§2 pseudo-negation 'not only'"),
    ("No fracture, but there is soft tissue calcification in the calf.", P, "§6.21 negation ends at 'but'"),
    ("No fracture or dislocation; calcification in the calf.", P, "§6.21 negation ends at ';'"),
    ("No fracture. There is calcification in the calf.", P, "§6.21 negation ends with the sentence"),
    (
        "No acute bony abnormality however there is calcification posterior to the knee.",
        P,
        "§6.21 negation ends at 'however'",
    ),
    ("Unremarkable apart from a small calcification in the calf.", P, "§6.21 'apart from' ends scope"),
    ("No fracture is seen, and there is calcification in the thigh.", P, "§6.21 new clause after verb"),
    ("Soft tissue calcification in the calf, fracture not seen.", P, "§6.21 after-cue of another subject"),
    ("Calcification in the calf with no associated mass.", P, "§6.2 'no mass' does not negate finding"),
    ("Calcification in the calf, not enlarging.", P, "§6.21 'not enlarging' negates growth only"),
    ("Calcification not excluded medial to the knee.", Q, "§2 'not excluded' is possible"),
    # possible
    ("Possible calcification in the calf.", Q, "§2 possible 'possible'"),
    ("Questionable calcification in the posterior thigh.", Q, "§2 possible 'questionable'"),
    ("Soft tissue calcification cannot be excluded.", Q, "§2 possible 'cannot be excluded'"),
    ("Cannot exclude early calcification.", Q, "§2 possible 'cannot exclude'"),
    ("Findings may represent calcification.", Q, "§2 possible 'may represent'"),
    ("Density could represent calcification.", Q, "§2 possible 'could represent'"),
    ("Suspicious for soft tissue calcification.", Q, "§2 possible 'suspicious for'"),
    ("Probable calcification in the soleus.", Q, "§2 possible 'probable'"),
    ("Likely calcification in the fat.", Q, "§2 possible 'likely'"),
    ("Suggestive of early heterotopic ossification.", Q, "§2 possible 'suggestive of'"),
    ("Differential includes calcification or foreign body.", Q, "§2 possible 'differential includes'"),
    ("Soft tissue density ?calcification.", Q, "§6.32 '?' directly before"),
    ("Soft tissue calcification? Please correlate.", Q, "§6.32 '?' directly after"),
    ("Calcification in the calf, ?gout.", P, "§6.32 '?' about something else"),
    ("Calcification is not ruled out.", Q, "§2 possible 'not ruled out'"),
    ("Calcification is suspected in the thigh.", Q, "§2 possible after-cue 'is suspected'"),
    # negated
    ("No soft tissue calcification.", N, "§2 negated 'no'"),
    ("No evidence of soft tissue calcification.", N, "§2 negated 'no evidence of'"),
    ("No radiographic evidence of calcification.", N, "§2 negated 'no radiographic evidence of'"),
    ("There is no calcification.", N, "§2 negated 'there is no'"),
    ("Soft tissues are unremarkable without calcification.", N, "§2 negated 'without'"),
    ("W/o soft tissue calcification.", N, "§6.32 negated 'w/o'"),
    ("Negative for soft tissue calcification.", N, "§2 negated 'negative for'"),
    ("Calcification is not seen.", N, "§2 negated 'not seen'"),
    ("Soft tissue calcification not identified.", N, "§2 negated 'not identified'"),
    ("Calcification is not appreciated on this study.", N, "§2 negated 'not appreciated'"),
    ("Calcification not visualised.", N, "§2 negated 'not visualised'"),
    ("Calcification not visualized.", N, "§2 negated 'not visualized'"),
    ("Soft tissue calcification is absent.", N, "§2 negated 'absent'"),
    ("Soft tissues free of calcification.", N, "§2 negated 'free of'"),
    ("No fracture, dislocation or soft tissue calcification.", N, "§6.21 negation runs through a list"),
    (
        "No fracture, dislocation, radiopaque foreign body or soft tissue calcification is seen.",
        N,
        "§6.21 negation runs through a long list",
    ),
    ("Neither fracture nor calcification.", N, "§2 negated 'neither/nor'"),
    ("No definite calcification.", N, "§2 negated 'no definite'"),
    ("Soft tissue calcification: none.", N, "§2 negated 'none'"),
    ("The soft tissues do not demonstrate calcification.", N, "§2 negated 'not demonstrate'"),
    # resolved
    ("The calcification has resolved.", R, "§2 resolved 'has resolved'"),
    ("Resolution of the previously noted calcification.", R, "§2 resolved 'resolution of'"),
    ("Interval resolution of the soft tissue calcification.", R, "§2 resolved 'interval resolution'"),
    ("The calcification is no longer seen.", R, "§2 resolved 'no longer seen'"),
    ("Previously described calcification is no longer visualised.", R, "§2 resolved 'no longer visualised'"),
    (
        "The faint mineralisation seen medial to the ankle on the last film has since resolved.",
        R,
        "§6.21 resolved clause",
    ),
    ("Calcification previously noted in the calf is now absent.", R, "§2 resolved 'now absent'"),
    ("No residual calcification.", R, "§2 resolved 'no residual'"),
]


@pytest.mark.parametrize(("text", "expected"), [row[:2] for row in ROWS], ids=[row[2] for row in ROWS])
def test_first_mention_assertion(text: str, expected: Assertion) -> None:
    reading = read(text)
    assert reading.mentions, f"no mention found in {text!r}"
    assert reading.mentions[0].assertion is expected
    assert reading.finding_counts is expected.counts


NOT_THE_FINDING = [
    ("Bone mineralization is normal.", "§2 bone mineralisation is not the finding"),
    ("The bones are normally mineralised.", "§2 normally mineralised bones are not the finding"),
    ("Normal ossification centres.", "§2 ossification centres are not the finding"),
    ("Enchondroma with chondroid calcification in the distal femur.", "§2 intraosseous calcification"),
    ("Non-calcified soft tissue swelling.", "§2 'non-calcified' is not the finding"),
]


@pytest.mark.parametrize("text", [row[0] for row in NOT_THE_FINDING], ids=[row[1] for row in NOT_THE_FINDING])
def test_words_that_are_not_the_finding(text: str) -> None:
    reading = read(text)
    assert not reading.finding_counts
    assert reading.mentions == ()


def test_mention_quotes_the_sentence_as_written() -> None:
    reading = read("FINDINGS: No fracture.  Small   calcification in the LEFT calf.\nIMPRESSION: As above.")
    assert [m.text for m in reading.mentions] == ["Small calcification in the LEFT calf."]
    assert reading.mentions[0].section == "FINDINGS"
    assert reading.mentions[0].source == "conclusion"


def test_mixed_sentence_keeps_both_assertions() -> None:
    reading = read("No calcification in the thigh but calcification in the calf.")
    assert {m.assertion for m in reading.mentions} == {N, P}
    assert reading.finding_counts
