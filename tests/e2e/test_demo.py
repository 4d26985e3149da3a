"""`cds-service demo` against a running service: every scenario printed, exit 0 when all match.

Run as the operator would, in a subprocess (`python -m cds_service demo --url ...`); once with
CDS_AUTH=off and once against CDS_AUTH=jwt with the demo signing its calls (ES384, kid = the
key's RFC 7638 thumbprint, listed in the service's trusted-clients file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cds_service.demo import jwk_thumbprint
from cds_service.fixtures import PLACEHOLDER_FHIR_SERVER, scenario_names
from tests.e2e.test_fixtures_http import FIXTURES, running_service, service_settings

ISSUER = "https://demo-ehr.example.org"


def run_demo_command(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDS_AUTH": "off", "CDS_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cds_service", "demo", "--url", url, "--fixtures", str(FIXTURES), *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def assert_every_scenario_shown(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for name in scenario_names(FIXTURES):
        assert f"== {name}:" in result.stdout
    assert "MISMATCH" not in result.stdout


def test_demo_prints_every_scenario_and_exits_0(tmp_path: Path) -> None:
    with running_service(service_settings(tmp_path)) as url:
        result = run_demo_command(url)
    assert_every_scenario_shown(result)
    assert "(recommended)" in result.stdout


def test_demo_signs_its_calls_for_a_jwt_service(tmp_path: Path) -> None:
    private_key = ec.generate_private_key(ec.SECP384R1())
    key_file = tmp_path / "demo-client.pem"
    key_file.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    public_jwk |= {"kid": jwk_thumbprint(private_key), "alg": "ES384", "use": "sig"}
    clients_file = tmp_path / "clients.yaml"
    clients_file.write_text(
        yaml.safe_dump(
            {
                "clients": [
                    {
                        "issuer": ISSUER,
                        "jwks": {"keys": [public_jwk]},
                        "fhir_servers": [PLACEHOLDER_FHIR_SERVER],
                    },
                ]
            }
        )
    )
    settings = service_settings(tmp_path, auth="jwt", clients_file=clients_file)
    with running_service(settings) as url:
        unsigned = run_demo_command(url)
        signed = run_demo_command(url, "--issuer", ISSUER, "--key", str(key_file))
    assert unsigned.returncode == 1 and "HTTP 401" in unsigned.stdout
    assert_every_scenario_shown(signed)
