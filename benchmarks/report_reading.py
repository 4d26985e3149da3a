"""Report reading speed: mean and p99 per report over ~1000 runs of a realistic 300-word report.

    python benchmarks/report_reading.py [runs] [rounds]

Runs `rounds` (default 5) rounds of `runs` readings and prints each round and the median of the
rounds, with the load average before and after: on a shared machine one round can be slowed by
another process, the median of several much less. Prints figures; it is not a timed test
(design.md decision 11).
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import time

from cds_service.clinical.report import assess_scope, read_report
from cds_service.knowledge import load_artifact

REPORT_TEXT = """EXAMINATION: XR LEFT TIBIA AND FIBULA, 2 VIEWS
CLINICAL HISTORY: 58-year-old with a tender lump in the left calf for three months. Hx of CKD stage 3
on no dialysis. Fall six weeks ago with bruising. No known malignancy. ?Soft tissue calcification.
COMPARISON: Radiographs of the left lower leg from the previous year.
TECHNIQUE: AP and lateral views of the left tibia and fibula.
FINDINGS:
Bones: No acute fracture or dislocation. Bone mineralization is normal. No periosteal reaction,
cortical erosion or aggressive osseous lesion is identified. Mild degenerative change at the
knee with joint space narrowed to 3 mm medially and small marginal osteophytes.
Soft tissues: There is an ovoid 3.2 x 2.1 x 4.4 cm focus of amorphous calcification within the
medial head of the gastrocnemius, deep to the fascia, which has increased in size compared with
the prior study. An associated soft tissue mass cannot be excluded. Separately, there are
several small rounded densities with lucent centres in the subcutaneous fat of the lower leg,
likely phleboliths. Tram-track vascular calcification of the popliteal and posterior tibial
arteries. No radiopaque foreign body. No soft tissue gas.
IMPRESSION:
1. Enlarging 4.4 cm intramuscular calcification in the left gastrocnemius with possible
associated soft tissue mass. Appearances are indeterminate; sarcoma is not excluded.
2. Phleboliths and arterial calcification, incidental.
3. No fracture.
RECOMMENDATION: MRI of the left calf without and with contrast, and referral to the sarcoma team
if a mass is confirmed.
ADDENDUM, 16:40: Discussed with the referring clinician by telephone.
"""


def main(runs: int, rounds: int = 5) -> None:
    lexicons = load_artifact().lexicons
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "category": [{"coding": [{"code": "RAD"}]}],
        "code": {"text": "XR TIBIA FIBULA LEFT"},
        "presentedForm": [
            {"contentType": "text/plain", "data": base64.b64encode(REPORT_TEXT.encode()).decode()}
        ],
    }
    print(f"report: {len(REPORT_TEXT.split())} words  load average: {_load()}")
    reading = read_report(report, [], {}, lexicons)  # compiles the lexicons once
    assess_scope(report, reading, lexicons)
    figures = []
    for _ in range(rounds):
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            reading = read_report(report, [], {}, lexicons)
            assess_scope(report, reading, lexicons)
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        figures.append((statistics.fmean(timings), timings[len(timings) // 2], p99))
        print(
            f"runs: {runs}  mean: {figures[-1][0]:.2f} ms  median: {figures[-1][1]:.2f} ms  p99: {p99:.2f} ms"
        )
    if rounds > 1:
        mean, median, p99 = (statistics.median(figure[i] for figure in figures) for i in range(3))
        print(
            f"median of {rounds} rounds  mean: {mean:.2f} ms  median: {median:.2f} ms  p99: {p99:.2f} ms"
            f"  load average: {_load()}"
        )
    features = reading.features
    print(
        f"finding: {reading.finding_counts} {reading.finding_type}  size {features.size_cm} cm  "
        f"depth {features.depth}  side {features.laterality}  mass {features.associated_mass}  "
        f"growth {features.growth}  malignancy {features.suspected_malignancy}  "
        f"painful mass {features.painful_mass}  history {sorted(features.history)}"
    )


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
