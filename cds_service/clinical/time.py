"""Reading FHIR dates as aware datetimes (UTC when the value carries no offset)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def parse_fhir_datetime(value: object) -> datetime | None:
    """FHIR date/dateTime/instant → aware datetime; partial dates take their first instant."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def report_date(report: Mapping[str, Any]) -> datetime | None:
    """The report's clinical date: effectiveDateTime, else effectivePeriod.start, else issued (§6.37)."""
    period = report.get("effectivePeriod") or {}
    for value in (report.get("effectiveDateTime"), period.get("start"), report.get("issued")):
        parsed = parse_fhir_datetime(value)
        if parsed is not None:
            return parsed
    return None
