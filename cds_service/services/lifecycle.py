"""The knowledge artifact's lifecycle at run time: past its expiry date it keeps running with a
warning (`CDS_ARTIFACT_EXPIRED=warn`, the default) or goes silent — evaluated and audited as
would-fire, no cards (`silent`)."""

from __future__ import annotations

import logging

from cds_service.services.resources import ServiceResources

log = logging.getLogger("cds_service.lifecycle")


def artifact_silenced(resources: ServiceResources) -> bool:
    artifact = resources.artifact
    if not artifact.expired(resources.clock().date()):
        return False
    silent = resources.settings.artifact_expired == "silent"
    log.warning(
        "knowledge artifact %s %s expired on %s: %s",
        artifact.id,
        artifact.version,
        artifact.expiry_date,
        "every rule is silent (CDS_ARTIFACT_EXPIRED=silent)" if silent else "still showing cards",
    )
    return silent
