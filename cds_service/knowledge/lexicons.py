"""Schema of the report-reading lexicons (the words radiologists use), part of the artifact."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Lexicons(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
