"""The service's exception tree, mapped once at the HTTP edge (``api/errors.py``).

CdsError
├── BadRequest              400  the request is malformed (body, JSON, fields, context)
│   └── PayloadTooDeep      400  JSON nested deeper than CDS_MAX_JSON_DEPTH
├── Unauthorized            401  authentication failed (no detail leaves the service)
├── Forbidden               403  fhirServer not on the calling client's list
├── UnknownService          404  no such service id
├── PreconditionFailed      412  required data (report, patient) cannot be had
├── PayloadTooLarge         413  body over CDS_MAX_BODY_BYTES
├── UnsupportedMediaType    415  body is not JSON
└── RateLimited             429  a client over its rate limit
"""

from __future__ import annotations


class CdsError(Exception):
    status_code = 500
    code = "exception"  # FHIR issue-type

    def __init__(self, message: str, *, expression: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression


class BadRequest(CdsError):
    status_code = 400
    code = "invalid"


class PayloadTooDeep(BadRequest):
    code = "too-costly"


class Unauthorized(CdsError):
    status_code = 401
    code = "login"

    def __init__(self, reason: str) -> None:
        super().__init__("authentication failed")
        self.reason = reason  # for logs and metrics only, never for the response body


class Forbidden(CdsError):
    status_code = 403
    code = "forbidden"


class UnknownService(CdsError):
    status_code = 404
    code = "not-found"


class PreconditionFailed(CdsError):
    status_code = 412
    code = "not-found"


class PayloadTooLarge(CdsError):
    status_code = 413
    code = "too-long"


class UnsupportedMediaType(CdsError):
    status_code = 415
    code = "not-supported"


class RateLimited(CdsError):
    status_code = 429
    code = "throttled"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many requests from this client")
        self.retry_after_s = retry_after_s
