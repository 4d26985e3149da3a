"""The trusted clients file: what a valid one gives, and how a bad one stops start-up."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cds_service.security.clients import ClientsFileError, load_clients
from cds_service.security.keys import KeySetError, parse_jwks
from tests.unit.security.minting import SANDBOX_KID, SigningClient, ec_p384_key, public_jwk, rsa_key

EHR = SigningClient("https://ehr.example.org", ec_p384_key("ehr"), "ehr-1", "ES384")

#: The CDS Hooks sandbox's published public key (cds-hooks/sandbox, .well-known/jwks.json).
SANDBOX_PUBLIC_JWKS = {
    "keys": [
        {
            "kty": "EC",
            "use": "sig",
            "crv": "P-384",
            "kid": SANDBOX_KID,
            "x": "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB",
            "y": "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy",
            "alg": "ES384",
        }
    ]
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clients.yaml"
    path.write_text(text)
    return path


def test_a_valid_file_gives_each_client_its_keys_and_servers(tmp_path: Path) -> None:
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(EHR.jwks()))
    path = write(
        tmp_path,
        f"""
clients:
  - issuer: https://ehr.example.org
    jwks_file: ehr-jwks.json
    fhir_servers: [https://ehr.example.org/fhir/R4/]
    tenant: hosp-a
  - issuer: https://epic.example.org
    jwks_url: https://epic.example.org/jwks
    jku_allowed: [https://epic.example.org/jwks]
  - issuer: https://sandbox.cds-hooks.org
    jwks: {json.dumps(SANDBOX_PUBLIC_JWKS)}
    jku_allowed: [https://sandbox.cds-hooks.org/.well-known/jwks.json]
    fhir_servers: [http://127.0.0.1:8092/fhir]
""",
    )
    clients = load_clients(path)
    ehr = clients.get("https://ehr.example.org")
    assert ehr is not None and set(ehr.configured_keys) == {"ehr-1"} and ehr.tenant == "hosp-a"
    assert ehr.lists_server("https://ehr.example.org/fhir/R4")  # trailing slash ignored
    assert not ehr.lists_server("https://ehr.example.org/fhir")
    epic = clients.get("https://epic.example.org")
    assert epic is not None and epic.jwks_url == "https://epic.example.org/jwks" and not epic.fhir_servers
    sandbox = clients.get("https://sandbox.cds-hooks.org")
    assert sandbox is not None and set(sandbox.configured_keys) == {SANDBOX_KID}
    assert clients.all_fhir_servers() == {"https://ehr.example.org/fhir/R4", "http://127.0.0.1:8092/fhir"}


def test_plain_http_urls_are_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(
        tmp_path,
        f"clients:\n  - issuer: x\n    jwks: {json.dumps(EHR.jwks())}\n    fhir_servers: [http://127.0.0.1/fhir]\n",
    )
    with caplog.at_level(logging.WARNING, "cds_service.security"):
        load_clients(path)
    assert "http://127.0.0.1/fhir" in caplog.text


JWKS = json.dumps(EHR.jwks())
BAD_FILES = [
    ("not-yaml", "clients: [", "not valid YAML"),
    ("no-clients", "clients: []", "field 'clients'"),
    ("not-a-mapping", "- a\n- b", "(top level)"),
    (
        "unknown-field",
        f"clients:\n  - issuer: x\n    jwks: {JWKS}\n    fhir_server: [https://f]",
        "fhir_server",
    ),
    ("no-key-source", "clients:\n  - issuer: x", "exactly one of jwks_url"),
    ("two-key-sources", f"clients:\n  - issuer: x\n    jwks: {JWKS}\n    jwks_url: https://k", "exactly one"),
    (
        "relative-url",
        f"clients:\n  - issuer: x\n    jwks: {JWKS}\n    fhir_servers: [fhir.example]",
        "absolute",
    ),
    ("ftp-jwks-url", "clients:\n  - issuer: x\n    jwks_url: ftp://k/jwks", "absolute"),
    (
        "duplicate-issuer",
        f"clients:\n  - issuer: x\n    jwks: {JWKS}\n  - issuer: x\n    jwks: {JWKS}",
        "twice",
    ),
    ("empty-jwks", "clients:\n  - issuer: x\n    jwks: {keys: []}", "no keys"),
    ("hmac-key", "clients:\n  - issuer: x\n    jwks: {keys: [{kty: oct, kid: a, k: c2VjcmV0}]}", "kty"),
    ("missing-jwks-file", "clients:\n  - issuer: x\n    jwks_file: nowhere.json", "cannot read"),
]


@pytest.mark.parametrize(
    ("text", "message"), [(t, m) for _, t, m in BAD_FILES], ids=[i for i, _, _ in BAD_FILES]
)
def test_a_bad_file_stops_start_up_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ClientsFileError) as caught:
        load_clients(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ClientsFileError, match="cannot read"):
        load_clients(tmp_path / "absent.yaml")


def _jwk(**changes: object) -> dict[str, object]:
    jwk = public_jwk(ec_p384_key("ehr"), "k", "ES384")
    jwk.update(changes)
    return {key: value for key, value in jwk.items() if value is not None}


BAD_KEYS = [
    ("no-kid", _jwk(kid=None), "'kid' is required"),
    ("encryption-key", _jwk(use="enc"), "'use'"),
    ("hmac-alg", _jwk(alg="HS256"), "not an allowed"),
    ("alg-does-not-fit-curve", _jwk(alg="ES256"), "does not fit"),
    ("rsa-alg-on-ec-key", _jwk(alg="RS384"), "not a valid"),
    ("broken-coordinates", _jwk(x="AAAA"), "not a valid"),
]


@pytest.mark.parametrize(
    ("jwk", "message"), [(j, m) for _, j, m in BAD_KEYS], ids=[i for i, _, _ in BAD_KEYS]
)
def test_configured_keys_are_strict(jwk: dict[str, object], message: str) -> None:
    with pytest.raises(KeySetError, match=message):
        parse_jwks({"keys": [jwk]}, strict=True)


def test_fetched_sets_skip_unusable_keys() -> None:
    keys = parse_jwks({"keys": [_jwk(use="enc"), public_jwk(rsa_key("epic"), "r1")]}, strict=False)
    assert set(keys) == {"r1"}
    assert keys["r1"].verifies("RS384") and keys["r1"].verifies("PS256") and not keys["r1"].verifies("ES384")


def test_short_rsa_keys_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeySetError, match="1024 bits"):
        parse_jwks({"keys": [public_jwk(short, "short")]}, strict=True)
