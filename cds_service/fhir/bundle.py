"""Reading FHIR Bundles the same way whether they came from prefetch or from our own search."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["entry_resources", "next_link"]

Resource = Mapping[str, Any]


def entry_resources(bundle: Resource) -> list[Resource]:
    """The resources a Bundle carries, without OperationOutcomes.

    Servers add OperationOutcome entries (``search.mode: outcome``) to report warnings about the
    search itself; they are never clinical data. Entries are parsed JSON: checked as ``dict``
    (cheaper than the ``Mapping`` ABC on every entry of every Bundle).
    """
    found: list[Resource] = []
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            found.append(resource)
    return found


def next_link(bundle: Resource) -> str | None:
    """The URL of the next page of a search, if the server said there is one."""
    for link in bundle.get("link") or ():
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None
