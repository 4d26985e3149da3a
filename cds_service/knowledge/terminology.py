"""Schema of the artifact's codes: lab value sets, units, conditions, orders (terminology.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Terminology(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
