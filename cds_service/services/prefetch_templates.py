"""The discovery prefetch templates (CDS Hooks 2.0 tokens only): what each service reads.

The same rendered template is used to fetch a key the client did not prefetch, so prefetched
and self-fetched data are equivalent. No repeated query parameters: the sandbox merges them.
"""

from __future__ import annotations

from cds_service.knowledge import Artifact

LOINC = "http://loinc.org"
LABS_PAGE_SIZE = 200


def lab_search(artifact: Artifact, patient_token: str = "{{context.patientId}}") -> str:
    loinc_codes = dict.fromkeys(
        code.code for analyte in artifact.terminology.analytes.values() for code in analyte.codes
    )
    codes = ",".join(f"{LOINC}|{code}" for code in loinc_codes)
    return f"Observation?patient={patient_token}&code={codes}&_sort=-date&_count={LABS_PAGE_SIZE}"


def patient_templates(artifact: Artifact) -> dict[str, str]:
    """What both services read about the patient: demographics, labs, problems, open orders."""
    return {
        "patient": "Patient/{{context.patientId}}",
        "labs": lab_search(artifact),
        "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
        "orders": "ServiceRequest?patient={{context.patientId}}&status=active,draft",
    }


def report_sign_templates(artifact: Artifact) -> dict[str, str]:
    return {"report": "DiagnosticReport/{{context.reportId}}", **patient_templates(artifact)}
