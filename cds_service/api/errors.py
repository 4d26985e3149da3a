"""One place where errors become HTTP answers: a status and an OperationOutcome body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cds_service.api.responses import JsonResponse
from cds_service.cdshooks.operation_outcome import operation_outcome
from cds_service.cdshooks.validation import describe_errors
from cds_service.errors import BadRequest, CdsError, RateLimited, Unauthorized

log = logging.getLogger("cds_service.api")


def error_response(error: CdsError) -> JsonResponse:
    headers: dict[str, str] = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    body = operation_outcome(error.code, error.message, error.expression)
    return JsonResponse(body, status_code=error.status_code, headers=headers)


async def _cds_error(request: Request, error: Exception) -> JsonResponse:
    assert isinstance(error, CdsError)
    if error.status_code >= 500:
        log.error("request failed: %s", error.message)
    return error_response(error)


async def _validation_error(request: Request, error: Exception) -> JsonResponse:
    assert isinstance(error, RequestValidationError)
    return error_response(BadRequest(describe_errors(error.errors())))


async def _http_error(request: Request, error: Exception) -> JsonResponse:
    assert isinstance(error, StarletteHTTPException)
    codes = {404: "not-found", 405: "not-supported"}
    detail = {
        404: f"no such endpoint: {request.url.path}",
        405: f"method {request.method} is not allowed here",
    }.get(error.status_code, str(error.detail))
    body = operation_outcome(codes.get(error.status_code, "processing"), detail)
    return JsonResponse(body, status_code=error.status_code, headers=error.headers)


async def _unexpected(request: Request, error: Exception) -> JsonResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    body = operation_outcome("exception", "internal error; it has been logged")
    return JsonResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CdsError, _cds_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
