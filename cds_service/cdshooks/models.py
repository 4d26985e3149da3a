"""Pydantic models of CDS Hooks 2.0 messages, with the spec's exact field names.

Requests tolerate unknown fields (ignored) and ``extension`` (kept); required fields have no
defaults. Responses are built from these models and serialised without nulls or empty values.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_USER_ID = re.compile(r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------- request


class FhirAuthorization(_Tolerant):
    access_token: str = Field(min_length=1, repr=False)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("token_type must be 'Bearer'")
        return value


def _check_fhir_id(value: str, what: str) -> str:
    if "/" in value:
        value = value.rsplit("/", 1)[1]
    if not _FHIR_ID.match(value):
        raise ValueError(f"{what} must be a FHIR id (letters, digits, '-', '.'; at most 64)")
    return value


class HookContext(_Tolerant):
    userId: str
    patientId: str
    encounterId: str | None = None
    extension: dict[str, Any] | None = None

    @field_validator("userId")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _USER_ID.match(value):
            raise ValueError("userId must be a reference like 'Practitioner/123'")
        return value

    @field_validator("patientId")
    @classmethod
    def _patient(cls, value: str) -> str:
        return _check_fhir_id(value, "patientId")

    @field_validator("encounterId")
    @classmethod
    def _encounter(cls, value: str | None) -> str | None:
        return None if value is None else _check_fhir_id(value, "encounterId")


CodeableLike = str | dict[str, Any] | list[str | dict[str, Any]]


class ReportSignContext(HookContext):
    """Context of the draft ``report-sign`` hook (see hooks/report-sign.md).

    ``category`` and ``procedure`` arrive as a string, a CodeableConcept, or a list of either:
    the draft's table and its example disagree, so all shapes are accepted.
    """

    reportId: str
    category: CodeableLike
    status: str
    procedure: CodeableLike | None = None

    @field_validator("reportId")
    @classmethod
    def _report(cls, value: str) -> str:
        return _check_fhir_id(value, "reportId")

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("status must not be empty")
        return value.strip()


class PatientViewContext(HookContext):
    pass


class HookRequest(_Tolerant):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1, max_length=128)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("fhirServer must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _token_needs_server(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is present")
        return self


# ---------------------------------------------------------------- response

Indicator = Literal["info", "warning", "critical"]


class Coding(_Strict):
    system: str
    code: str
    display: str | None = None


class Source(_Strict):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Strict):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(_Strict):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None


class Card(_Strict):
    uuid: str | None = None
    summary: str
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None
    extension: dict[str, Any] | None = None


class CdsResponse(_Strict):
    cards: list[Card]
    systemActions: list[Action] | None = None


class ServiceDefinition(_Strict):
    hook: str
    id: str
    title: str | None = None
    description: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None
    extension: dict[str, Any] | None = None


class Discovery(_Strict):
    services: list[ServiceDefinition]


# ---------------------------------------------------------------- feedback


class AcceptedSuggestion(_Tolerant):
    id: str = Field(min_length=1)


class OverrideReason(_Tolerant):
    reason: Coding | None = None
    userComment: str | None = None

    @field_validator("reason", mode="before")
    @classmethod
    def _loose_coding(cls, value: object) -> object:
        if isinstance(value, dict):  # clients send extra keys on Coding (userSelected, version)
            return {k: v for k, v in value.items() if k in ("system", "code", "display")}
        return value


class FeedbackItem(_Tolerant):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | list[OverrideReason] | None = None
    overrideReasons: OverrideReason | list[OverrideReason] | None = None  # Epic's spelling
    outcomeTimestamp: str = Field(min_length=1)

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is 'accepted'")
        return self

    def reasons(self) -> list[OverrideReason]:
        """The override reasons, whichever spelling and shape the client used."""
        found: list[OverrideReason] = []
        for value in (self.overrideReason, self.overrideReasons):
            if isinstance(value, list):
                found.extend(value)
            elif value is not None:
                found.append(value)
        return found


class FeedbackRequest(_Tolerant):
    feedback: list[FeedbackItem] = Field(min_length=1)
