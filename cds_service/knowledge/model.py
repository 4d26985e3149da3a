"""The knowledge artifact's schema and loader.

The packaged artifact is ``calcification-lower-limb-xr.yaml`` beside this file;
``CDS_KNOWLEDGE_FILE`` replaces it with a governance-approved copy. A bad file stops start-up
with a message naming the field. The SHA-256 of the file's bytes is part of every evaluation.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cds_service.knowledge.lexicons import Lexicons
from cds_service.knowledge.terminology import Terminology

PACKAGED_ARTIFACT = Path(__file__).with_name("calcification-lower-limb-xr.yaml")
TOPICS = (
    "CalcRedFlags",
    "CalcMetabolicAbnormal",
    "CalcMetabolicWorkup",
    "CalcFurtherImaging",
    "CalcBenignPattern",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(_Model):
    id: str
    title: str
    url: str = Field(pattern=r"^https://")


class RuleDefinition(_Model):
    title: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    status: Literal["active", "silent", "retired"]
    evidence: list[str] = Field(default_factory=list)


class RecencyDays(_Model):
    calcium: int = Field(gt=0)
    phosphate: int = Field(gt=0)
    creatinine: int = Field(gt=0)
    egfr: int = Field(gt=0)
    albumin: int = Field(gt=0)
    pth: int = Field(gt=0)
    vitamin_d: int = Field(gt=0)


class AdultUpperLimits(_Model):
    """Default upper limits of normal, in the canonical (mass) units."""

    calcium_total_mg_dl: float = Field(gt=0)
    calcium_ionized_mg_dl: float = Field(gt=0)
    phosphate_mg_dl: float = Field(gt=0)
    pth_pg_ml: float = Field(gt=0)


class Parameters(_Model):
    recency_days: RecencyDays
    adult_upper_limits: AdultUpperLimits
    red_flag_size_cm: float = Field(gt=0)
    egfr_threshold: float = Field(gt=0)  # below → CalcMetabolicAbnormal
    egfr_nephrology_threshold: float = Field(gt=0)  # below → nephrology referral
    albumin_correction_below_g_dl: float = Field(gt=0)
    ca_x_p_flag: float = Field(gt=0)
    open_order_days: int = Field(gt=0)
    child_age_below: int = Field(gt=0)


class Artifact(_Model):
    id: str
    title: str
    canonical: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    status: Literal["draft", "active", "retired"]
    steward: str
    approval_date: date
    last_review_date: date
    expiry_date: date
    documentation_url: str | None = None
    evidence: list[Evidence]
    rules: dict[str, RuleDefinition]
    parameters: Parameters
    terminology: Terminology
    lexicons: Lexicons
    content_hash: str = ""  # set by the loader, not read from the file

    @model_validator(mode="after")
    def _every_topic_once(self) -> Artifact:
        missing = [topic for topic in TOPICS if topic not in self.rules]
        unknown = [topic for topic in self.rules if topic not in TOPICS]
        if missing or unknown:
            raise ValueError(
                f"rules must be exactly {', '.join(TOPICS)} "
                f"(missing: {missing or 'none'}, unknown: {unknown or 'none'})"
            )
        known = {e.id for e in self.evidence}
        for topic, rule in self.rules.items():
            for ref in rule.evidence:
                if ref not in known:
                    raise ValueError(f"rules.{topic}.evidence: '{ref}' is not an evidence id")
        return self

    def evidence_by_id(self, evidence_id: str) -> Evidence:
        return next(e for e in self.evidence if e.id == evidence_id)

    def expired(self, today: date) -> bool:
        return today > self.expiry_date


class ArtifactError(Exception):
    """The knowledge artifact is unreadable or invalid; the message names the field."""


def load_artifact(path: Path | None = None) -> Artifact:
    source = path or PACKAGED_ARTIFACT
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"knowledge artifact {source}: cannot read ({exc.strerror})") from None
    try:
        content = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ArtifactError(f"knowledge artifact {source}: not valid YAML ({exc})") from None
    if not isinstance(content, dict):
        raise ArtifactError(f"knowledge artifact {source}: must be a YAML mapping")
    content["content_hash"] = hashlib.sha256(raw).hexdigest()
    try:
        return Artifact.model_validate(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ArtifactError(f"knowledge artifact {source}: field '{where}': {first['msg']}") from None
