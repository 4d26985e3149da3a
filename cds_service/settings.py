"""One settings object for the whole service, read from `CDS_*` environment variables.

Built once at start-up (``Settings()``); a bad value stops start-up with a message naming the
variable. List values are comma-separated strings, never JSON.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger("cds_service.settings")

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDS_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./var/cds-audit.sqlite3"
    auth: Literal["jwt", "off"] = "jwt"
    clients_file: Path | None = None
    public_base_url: str | None = None
    report_sign_hook: str = Field(default="report-sign", min_length=1)
    deadline_ms: int = Field(default=1500, ge=50, le=60000)
    fhir_timeout_ms: int = Field(default=1000, ge=10, le=60000)
    fhir_max_pages: int = Field(default=5, ge=1, le=100)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=64, ge=4, le=1000)
    jwt_max_lifetime_s: int = Field(default=300, ge=1)
    jwt_leeway_s: int = Field(default=5, ge=0, le=300)
    jwks_min_refresh_s: int = Field(default=60, ge=0)
    rate_limit_per_client: float = Field(default=200, ge=0)
    redis_url: str | None = None
    cors_origins: CommaList = Field(default_factory=lambda: ["*"])
    admin_token: str | None = None
    knowledge_file: Path | None = None
    artifact_expired: Literal["warn", "silent"] = "warn"
    topic_system: str = "urn:calcification-cds:topic"
    patient_view_window_days: int = Field(default=90, ge=1)
    patient_view_max_reports: int = Field(default=3, ge=1, le=50)
    suppress_days: int = Field(default=30, ge=0)
    workers: int = Field(default=1, ge=1, le=64)
    otel: Literal["off", "on"] = "off"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL, e.g. https://cds.example.org")
        return value.rstrip("/")

    @field_validator("otel", "auth", "artifact_expired", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def deadline_s(self) -> float:
        return self.deadline_ms / 1000

    @property
    def fhir_timeout_s(self) -> float:
        return self.fhir_timeout_ms / 1000


class SettingsError(Exception):
    """A setting is invalid; the message names the variable."""


def load_settings() -> Settings:
    """Build the settings, warning about unknown `CDS_*` variables and naming bad ones."""
    known = {f"CDS_{name.upper()}" for name in Settings.model_fields}
    for name in sorted(os.environ):
        if name.startswith("CDS_") and name not in known and not name.startswith("CDS_TEST_"):
            log.warning("ignoring unknown setting %s", name)
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"CDS_{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None
