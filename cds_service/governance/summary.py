"""The governance summary: the audit store's numbers plus the artifact's dates, as one dict.

The JSON endpoint returns it as it is and the page renders it, so both show the same numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from cds_service.audit.export import instant
from cds_service.audit.governance import artifact_status
from cds_service.knowledge import Artifact

DEFAULT_PERIOD = timedelta(weeks=12)


@runtime_checkable
class GovernanceSource(Protocol):
    """An audit store that can count for governance (the SQL store can; a bare fake may not)."""

    async def governance_summary(self, since: datetime) -> dict[str, Any]: ...


async def collect(
    source: GovernanceSource, artifact: Artifact, now: datetime, since: datetime | None = None
) -> dict[str, Any]:
    """Numbers for invocations received at or after ``since`` (default: the last 12 weeks)."""
    summary = await source.governance_summary(since or now - DEFAULT_PERIOD)
    return {
        **summary,
        "generatedAt": instant(now),
        "artifact": artifact_status(artifact, now.date()),
    }
