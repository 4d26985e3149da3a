"""Prefetch as the CDS Hooks 2.0 spec defines it: rendering templates and reading what came back.

A template is a relative FHIR read or search URL with ``{{…}}`` tokens (checklist §3.3). The
service renders the same template the client rendered, so what it fetches itself equals what the
client would have prefetched. What the client sent for a key means (checklist §3.4):

- key absent                 → MISSING: not attempted or failed; fetch it ourselves (or 412).
- key ``null``               → NULL: authoritative "no such data"; never re-query.
- a resource of the type asked for, or a Bundle for a search → PRESENT.
- an OperationOutcome, a Bundle holding an error-severity one, or a resource of another type
                             → ERROR: the client could not get it; fetch it ourselves if we can.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = [
    "USER_TOKENS",
    "PrefetchStatus",
    "PrefetchValue",
    "classify_prefetch",
    "render_template",
    "repeated_parameters",
]

_TOKEN = re.compile(r"\{\{(.*?)\}\}")

# 2.0 user tokens: the id of the current user's resource, when context.userId is of that type.
USER_TOKENS: Mapping[str, str] = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}

_ERROR_SEVERITIES = frozenset({"error", "fatal"})


class PrefetchStatus(StrEnum):
    PRESENT = "present"
    NULL = "null"
    MISSING = "missing"
    ERROR = "error"


@dataclass(frozen=True)
class PrefetchValue:
    """What the client sent for one prefetch key, classified."""

    status: PrefetchStatus
    resource: Mapping[str, Any] | None = None  # set when PRESENT
    problem: str | None = None  # set when ERROR: why the value cannot be used

    @property
    def needs_fetch(self) -> bool:
        """MISSING and ERROR keys are fetched by the service itself; NULL is never re-queried."""
        return self.status in (PrefetchStatus.MISSING, PrefetchStatus.ERROR)


# ---------------------------------------------------------------- rendering


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """The template with every token replaced, or None when a token cannot be resolved.

    A template with an unresolvable token is unusable as a whole: querying it with a blank or a
    literal ``{{…}}`` would ask the FHIR server for something else than the template means.
    """
    unresolved = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal unresolved
        value = _token_value(match.group(1).strip(), context)
        if value is None:
            unresolved = True
            return ""
        return quote(value, safe="/")

    rendered = _TOKEN.sub(substitute, template)
    if unresolved or "{{" in rendered or "}}" in rendered:
        return None
    return rendered


def _token_value(token: str, context: Mapping[str, Any]) -> str | None:
    if token.startswith("context."):
        return _context_field(token.removeprefix("context."), context)
    if token in USER_TOKENS:
        return _user_id_of_type(USER_TOKENS[token], context.get("userId"))
    return None


def _context_field(name: str, context: Mapping[str, Any]) -> str | None:
    """Only top-level primitive fields are 2.0 tokens (``context.medication.id`` is not)."""
    if "." in name:
        return None
    value = context.get(name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _user_id_of_type(resource_type: str, user_id: object) -> str | None:
    if not isinstance(user_id, str) or "/" not in user_id:
        return None
    kind, _, identifier = user_id.rpartition("/")
    return identifier if kind == resource_type and identifier else None


def repeated_parameters(template: str) -> list[str]:
    """Search parameters a template repeats.

    The sandbox merges ``date=ge…&date=lt…`` into one OR-ed ``date=ge…,lt…`` (sandbox-compat §8.13),
    so such a template gets wider data from prefetch than from the service's own query.
    """
    names = [name for name, _ in parse_qsl(urlsplit(template).query, keep_blank_values=True)]
    return sorted({name for name in names if names.count(name) > 1})


# ---------------------------------------------------------------- classification


def classify_prefetch(prefetch: Mapping[str, Any] | None, key: str, expected_type: str) -> PrefetchValue:
    """Classify the value sent for ``key``; ``expected_type`` is the read's type, or "Bundle"."""
    if prefetch is None or key not in prefetch:
        return PrefetchValue(PrefetchStatus.MISSING)
    value = prefetch[key]
    if value is None:
        return PrefetchValue(PrefetchStatus.NULL)
    problem = _problem_with(value, expected_type)
    if problem is not None:
        return PrefetchValue(PrefetchStatus.ERROR, problem=problem)
    return PrefetchValue(PrefetchStatus.PRESENT, resource=value)


def _problem_with(value: object, expected_type: str) -> str | None:
    if not isinstance(value, Mapping):
        return "prefetch value is not a FHIR resource"
    resource_type = value.get("resourceType")
    if resource_type == "OperationOutcome":
        return "prefetch returned an OperationOutcome"
    if resource_type != expected_type:
        return f"prefetch returned {_describe(resource_type)} where {expected_type} was expected"
    if resource_type == "Bundle" and _holds_error_outcome(value):
        return "prefetch Bundle holds an OperationOutcome"
    return None


def _describe(resource_type: object) -> str:
    return f"a {resource_type}" if isinstance(resource_type, str) else "no resourceType"


def _holds_error_outcome(bundle: Mapping[str, Any]) -> bool:
    """An error-severity OperationOutcome entry means the client's search failed.

    Servers also add warning/information outcomes (``search.mode: outcome``) to good results;
    those do not make the Bundle an error, they are skipped when the entries are read.
    """
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None  # parsed JSON
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            issues = resource.get("issue") or ()
            if any(isinstance(i, Mapping) and i.get("severity") in _ERROR_SEVERITIES for i in issues):
                return True
    return False
