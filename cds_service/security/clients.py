"""The trusted clients file (`CDS_CLIENTS_FILE`): which EHRs may call, with which keys, and
which FHIR servers each may send us to.

Loaded and validated once at start-up: a bad file stops the service with a message naming the
file, the client and the field, rather than failing later on a live call.

    clients:
      - issuer: https://ehr.example.org          # JWT iss
        jwks_url: https://ehr.example.org/jwks   # or jwks: {keys: [...]} inline, or jwks_file: path
        jku_allowed: [https://ehr.example.org/jwks]
        fhir_servers: [https://ehr.example.org/fhir/R4]
        tenant: optional-tenant-id
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cds_service.security.caller import normalise_server
from cds_service.security.keys import KeySetError, VerificationKey, parse_jwks

log = logging.getLogger("cds_service.security")


class SecurityConfigError(Exception):
    """The security configuration cannot be used; start-up stops with this message."""


class ClientsFileError(SecurityConfigError):
    """The trusted clients file cannot be used."""


@dataclass(frozen=True)
class TrustedClient:
    issuer: str
    fhir_servers: frozenset[str]  # normalised: no trailing slash
    configured_keys: Mapping[str, VerificationKey] = field(default_factory=dict)  # inline or file
    jwks_url: str | None = None
    jku_allowed: frozenset[str] = frozenset()
    tenant: str | None = None

    def lists_server(self, url: str) -> bool:
        return normalise_server(url) in self.fhir_servers


@dataclass(frozen=True)
class TrustedClients:
    by_issuer: Mapping[str, TrustedClient]

    def get(self, issuer: str) -> TrustedClient | None:
        return self.by_issuer.get(issuer)

    def __iter__(self) -> Iterator[TrustedClient]:
        return iter(self.by_issuer.values())

    def __len__(self) -> int:
        return len(self.by_issuer)

    def all_fhir_servers(self) -> frozenset[str]:
        """With CDS_AUTH=off, the union of every client's list (design decision 2)."""
        return frozenset(server for client in self for server in client.fhir_servers)


def _absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{value}' is not an absolute http(s) URL")
    return value


class _ClientEntry(BaseModel):
    """One entry as written in the file; unknown fields are refused (typos would weaken trust)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1)
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_file: Path | None = None
    jku_allowed: list[str] = Field(default_factory=list)
    fhir_servers: list[str] = Field(default_factory=list)
    tenant: str | None = Field(default=None, min_length=1)

    @field_validator("jwks_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _absolute_http_url(value)

    @field_validator("jku_allowed", "fhir_servers")
    @classmethod
    def _urls(cls, values: list[str]) -> list[str]:
        return [_absolute_http_url(value) for value in values]

    @model_validator(mode="after")
    def _one_key_source(self) -> _ClientEntry:
        given = [name for name in ("jwks_url", "jwks", "jwks_file") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of jwks_url, jwks (inline) or jwks_file")
        return self


class _ClientsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clients: list[_ClientEntry] = Field(min_length=1)


def load_clients(path: Path) -> TrustedClients:
    """Read, validate and index the clients file; raise ClientsFileError naming what is wrong."""
    document = _validated_document(path, _read_yaml(path))
    clients: dict[str, TrustedClient] = {}
    for entry in document.clients:
        if entry.issuer in clients:
            raise ClientsFileError(f"clients file {path}: issuer '{entry.issuer}' is listed twice")
        clients[entry.issuer] = _trusted_client(entry, path)
    trusted = TrustedClients(clients)
    _warn_about_plain_http(trusted)
    return trusted


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientsFileError(f"clients file {path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClientsFileError(f"clients file {path}: not valid YAML ({exc})") from None


def _validated_document(path: Path, raw: object) -> _ClientsDocument:
    try:
        return _ClientsDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ClientsFileError(f"clients file {path}: field '{where}': {first['msg']}") from None


def _trusted_client(entry: _ClientEntry, path: Path) -> TrustedClient:
    return TrustedClient(
        issuer=entry.issuer,
        fhir_servers=frozenset(normalise_server(url) for url in entry.fhir_servers),
        configured_keys=_configured_keys(entry, path),
        jwks_url=entry.jwks_url,
        jku_allowed=frozenset(entry.jku_allowed),
        tenant=entry.tenant,
    )


def _configured_keys(entry: _ClientEntry, path: Path) -> dict[str, VerificationKey]:
    """Inline or file keys, parsed now so a broken key stops start-up."""
    document: object = entry.jwks
    if entry.jwks_file is not None:
        document = _read_jwks_file(entry, path)
    if document is None:
        return {}
    try:
        keys = parse_jwks(document, strict=True)
    except KeySetError as exc:
        raise ClientsFileError(f"clients file {path}: client '{entry.issuer}': jwks: {exc}") from None
    if not keys:
        raise ClientsFileError(f"clients file {path}: client '{entry.issuer}': jwks holds no keys")
    return keys


def _read_jwks_file(entry: _ClientEntry, path: Path) -> object:
    """A relative `jwks_file` is read next to the clients file, wherever the service runs."""
    assert entry.jwks_file is not None
    jwks_path = entry.jwks_file if entry.jwks_file.is_absolute() else path.parent / entry.jwks_file
    where = f"clients file {path}: client '{entry.issuer}': jwks_file {jwks_path}"
    try:
        return json.loads(jwks_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientsFileError(f"{where}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise ClientsFileError(f"{where}: not valid JSON ({exc})") from None


def _warn_about_plain_http(clients: TrustedClients) -> None:
    """Plain http is allowed for local testing only; say so loudly at start-up."""
    for client in clients:
        urls = [*client.fhir_servers, *client.jku_allowed, *filter(None, [client.jwks_url])]
        for url in sorted(url for url in urls if url.startswith("http://")):
            log.warning("client '%s' lists a plain http:// URL (%s): local testing only", client.issuer, url)
