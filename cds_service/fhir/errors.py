"""Why a FHIR call gave nothing usable. httpx's exceptions are translated into these in
``client.py`` and never leave ``cds_service.fhir``.

    FhirError                     a FHIR call failed; ``outcome`` is its metrics label
    ├── FhirTimeout               no answer within the per-request timeout
    ├── FhirUnreachable           connection, DNS, TLS or protocol failure
    ├── FhirHttpStatus            a non-2xx answer (redirects are never followed: 3xx lands here)
    ├── FhirInvalidJson           the body is not a JSON FHIR resource
    ├── FhirUnexpectedResource    a resource of another type than the one asked for
    └── FhirForeignUrl            a URL outside the fhirServer base: never called, so the
                                  bearer token never reaches another host

Messages are shown to clinicians (as data gaps) and to the EHR (412): they say what happened,
never a token and never patient data.
"""

from __future__ import annotations

__all__ = [
    "FhirError",
    "FhirForeignUrl",
    "FhirHttpStatus",
    "FhirInvalidJson",
    "FhirTimeout",
    "FhirUnexpectedResource",
    "FhirUnreachable",
]


class FhirError(Exception):
    outcome = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FhirTimeout(FhirError):
    outcome = "timeout"

    def __init__(self) -> None:
        super().__init__("FHIR server timed out")


class FhirUnreachable(FhirError):
    outcome = "unreachable"

    def __init__(self, cause: str) -> None:
        super().__init__(f"FHIR server unreachable ({cause})")


class FhirHttpStatus(FhirError):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"FHIR server answered {status_code}")
        self.status_code = status_code
        self.outcome = f"http-{status_code // 100}xx"


class FhirInvalidJson(FhirError):
    outcome = "invalid-json"

    def __init__(self, detail: str = "the answer is not a JSON FHIR resource") -> None:
        super().__init__(f"FHIR server answered badly: {detail}")


class FhirUnexpectedResource(FhirError):
    outcome = "unexpected-resource"

    def __init__(self, expected: str, received: object) -> None:
        what = f"a {received}" if isinstance(received, str) else "no resourceType"
        super().__init__(f"FHIR server answered with {what} where {expected} was expected")
        self.expected = expected
        self.received = received


class FhirForeignUrl(FhirError):
    outcome = "refused"

    def __init__(self) -> None:
        super().__init__("URL is not on the FHIR server the request named; not followed")
