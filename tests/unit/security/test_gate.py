"""Start-up behaviour of the gate: refuse to run unauthenticated by accident."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cds_service.security.clients import SecurityConfigError
from cds_service.security.gate import SecurityGate
from cds_service.settings import Settings
from tests.unit.security.minting import SigningClient, ec_p384_key

EHR = SigningClient("https://ehr.example.org", ec_p384_key("ehr"), "ehr-1", "ES384")


def test_jwt_without_a_clients_file_refuses_to_start() -> None:
    with pytest.raises(SecurityConfigError, match="CDS_CLIENTS_FILE"):
        SecurityGate(Settings(auth="jwt", clients_file=None))


def test_a_bad_redis_url_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text(f"clients:\n  - issuer: x\n    jwks: {json.dumps(EHR.jwks())}\n")
    with pytest.raises(SecurityConfigError, match="CDS_REDIS_URL"):
        SecurityGate(Settings(auth="jwt", clients_file=path, redis_url="nonsense://x"))


def test_auth_off_is_warned_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "cds_service.security"):
        SecurityGate(Settings(auth="off"))
    assert "NOT authenticated" in caplog.text
    assert "any fhirServer" in caplog.text
