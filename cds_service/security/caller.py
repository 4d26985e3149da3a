"""Who is calling: the trusted client a request was authenticated as."""

from __future__ import annotations

from dataclasses import dataclass


def normalise_server(url: str) -> str:
    """FHIR base URLs compare without a trailing slash (design.md)."""
    return url.rstrip("/")


@dataclass(frozen=True)
class Caller:
    issuer: str | None  # JWT iss; None with CDS_AUTH=off
    tenant: str | None = None
    fhir_servers: frozenset[str] | None = None  # None: any server (CDS_AUTH=off, no clients file)
    remote_address: str | None = None

    def lists_server(self, url: str) -> bool:
        return self.fhir_servers is None or normalise_server(url) in self.fhir_servers

    @property
    def name(self) -> str:
        """For logs and rate limiting: the issuer, else the remote address."""
        return self.issuer or f"anonymous@{self.remote_address or 'unknown'}"
