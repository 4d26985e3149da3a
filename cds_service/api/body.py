"""Reading a request body: media type (415), size (413), JSON syntax and depth (400)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request

from cds_service.errors import BadRequest, PayloadTooDeep, PayloadTooLarge, UnsupportedMediaType

JSON_MEDIA_TYPES = frozenset({"application/json", "application/fhir+json", "application/json+fhir"})


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json_object(request: Request, max_bytes: int, max_depth: int) -> dict[str, Any]:
    media_type = _media_type(request)
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(f"Content-Type must be application/json (got {media_type or 'none'})")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
    return parse_json_object(bytes(body), max_depth)


def parse_json_object(body: bytes, max_depth: int) -> dict[str, Any]:
    if not body.strip():
        raise BadRequest("request body is empty; expected a JSON object")
    _check_depth(body, max_depth)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest("request body must be a JSON object")
    return document


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_depth(body: bytes, max_depth: int) -> None:
    """Refuse deep nesting before parsing (a parser's recursion is the attack surface).

    Strings are removed first, so text like "[[[" in a report does not count; what remains is
    only brackets, counted in one pass.
    """
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in (0x7B, 0x5B):
            depth += 1
            if depth > max_depth:
                raise PayloadTooDeep(f"JSON is nested deeper than {max_depth} levels")
        else:
            depth -= 1
