"""Turning pydantic validation errors into one specific sentence for an OperationOutcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def describe_errors(errors: Sequence[Any], prefix: str = "") -> str:
    """'context.reportId: Field required; hook: ...' — what is wrong, and where."""
    parts = []
    for error in list(errors)[:10]:
        location = ".".join(str(p) for p in error["loc"] if p != "body")
        where = f"{prefix}{location}" if location else (prefix.rstrip(".") or "body")
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
