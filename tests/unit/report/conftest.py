"""Shared helpers: the packaged artifact's lexicons and a report built from text."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.evaluation import ReportReading
from cds_service.clinical.report import read_report
from cds_service.knowledge import load_artifact
from cds_service.knowledge.lexicons import Lexicons

LEXICONS: Lexicons = load_artifact().lexicons


def report(
    conclusion: str | None = None, *, code: str = "XR LOWER LEG", status: str = "final", **extra: Any
) -> dict[str, Any]:
    """A final radiology DiagnosticReport whose `conclusion` is the given text."""
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": status,
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}
        ],
        "code": {"text": code},
    }
    if conclusion is not None:
        resource["conclusion"] = conclusion
    resource.update(extra)
    return resource


def read(text: str, **kwargs: Any) -> ReportReading:
    return read_report(report(text, **kwargs), [], {}, LEXICONS)


@pytest.fixture(scope="session")
def lexicons() -> Lexicons:
    return LEXICONS
