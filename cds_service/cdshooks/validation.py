"""Turning pydantic validation errors into one specific sentence for an OperationOutcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cds_service.errors import BadRequest

ModelT = TypeVar("ModelT", bound=BaseModel)


def describe_errors(errors: Sequence[Any], prefix: str = "") -> str:
    """'context.reportId: Field required; hook: ...' — what is wrong, and where."""
    parts = []
    for error in list(errors)[:10]:
        location = ".".join(str(p) for p in error["loc"] if p != "body")
        where = f"{prefix}{location}" if location else (prefix.rstrip(".") or "body")
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def validate_context(model: type[ModelT], raw: dict[str, Any]) -> ModelT:
    """The hook's context as its model, or a 400 naming each field under `context.`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise BadRequest(describe_errors(exc.errors(), prefix="context.")) from None
