"""Reading a radiology report: scope (§1) and the finding with its features (§2).

    read_report(report, results, attachments, lexicons) -> ReportReading
    assess_scope(report, reading, lexicons, scope_terminology=None) -> Scope

Inside, one direction of flow:
text (codes and texts from every source) → sections → sentences → assertion (NegEx/ConText
cues per clause) → findings (mentions, lesions, type) → features (report level). All words
come from the artifact's lexicons (``knowledge/lexicons.py``), compiled once per artifact.
"""

from cds_service.clinical.report.reading import read_report
from cds_service.clinical.report.scope import assess_scope

__all__ = ["assess_scope", "read_report"]
