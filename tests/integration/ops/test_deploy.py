"""deploy/ is consistent with the package: the Kubernetes manifests validate against the
Kubernetes schemas (offline, kubernetes-validate), the image runs the console script with a
command its parser accepts, every CDS_* name used is a setting, and the files the manifests
mount are usable by the service."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from cds_service.api.app import create_app
from cds_service.cli import _parser
from cds_service.knowledge import load_artifact
from cds_service.security.clients import load_clients
from cds_service.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships
MANIFESTS = sorted(KUBERNETES.rglob("*.yaml"))
SETTINGS_NAMES = {f"CDS_{name.upper()}" for name in Settings.model_fields}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifest(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for path in MANIFESTS
        for doc in documents(path)
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container() -> dict[str, Any]:
    containers: list[dict[str, Any]] = manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    return containers[0]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def last(dockerfile: list[tuple[str, str]], instruction: str) -> str:
    return [arguments for name, arguments in dockerfile if name == instruction][-1]


# ---------------------------------------------------------------- Kubernetes manifests


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: str(path.relative_to(KUBERNETES)))
def test_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    for document in documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    """The check above proves something: a misspelt field fails it."""
    broken = manifest("Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_deployment_probes_replicas_and_security_context() -> None:
    deployment = manifest("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    service = container()
    assert deployment["spec"]["replicas"] >= 3
    assert service["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert service["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"requests", "limits"} <= set(service["resources"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert service["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # uvicorn's graceful shutdown (10 s) and the preStop pause fit in the grace period
    assert pod["terminationGracePeriodSeconds"] >= 10 + service["lifecycle"]["preStop"]["sleep"]["seconds"]


def test_the_deployment_runs_the_images_command_with_a_parsable_serve() -> None:
    args = _parser(1).parse_args(container()["args"])
    assert args.command == "serve"
    assert container()["ports"][0]["containerPort"] == args.port


def test_selectors_and_references_hold_together() -> None:
    pod_labels = manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = manifest(kind)["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= pod_labels.items(), kind
    assert manifest("NetworkPolicy")["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    target = manifest("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", manifest("Deployment")["metadata"]["name"])
    assert manifest("HorizontalPodAutoscaler")["apiVersion"] == "autoscaling/v2"
    assert manifest("HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 3


def test_secret_references_name_keys_the_example_secret_has() -> None:
    secret = manifest("Secret", "cds-service-secrets")
    env_keys = {
        entry["valueFrom"]["secretKeyRef"]["key"] for entry in container()["env"] if "valueFrom" in entry
    }
    volumes = manifest("Deployment")["spec"]["template"]["spec"]["volumes"]
    mounted = {item["key"] for volume in volumes if "secret" in volume for item in volume["secret"]["items"]}
    assert env_keys | mounted <= set(secret["stringData"])
    assert {"CDS_DATABASE_URL", "CDS_ADMIN_TOKEN"} <= {
        entry["name"] for entry in container()["env"] if "secretKeyRef" in entry.get("valueFrom", {})
    }


def test_mounted_files_are_where_the_settings_point() -> None:
    env = {entry["name"]: entry.get("value") for entry in container()["env"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container()["volumeMounts"]}
    volumes = {
        volume["name"]: volume for volume in manifest("Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    knowledge = manifest("ConfigMap", volumes["knowledge"]["configMap"]["name"])
    assert env["CDS_KNOWLEDGE_FILE"] in {f"{mounts['knowledge']}/{key}" for key in knowledge["data"]}
    assert env["CDS_CLIENTS_FILE"] == f"{mounts['clients']}/clients.yaml"


def test_the_knowledge_configmap_holds_the_packaged_artifact_version(tmp_path: Path) -> None:
    """A governance-approved copy: it must load, and name the artifact version the image ships
    (regenerate it as its header says when the packaged artifact's version changes)."""
    ((key, text),) = manifest("ConfigMap", "cds-service-knowledge")["data"].items()
    copy = tmp_path / key
    copy.write_text(text, encoding="utf-8")
    deployed, packaged = load_artifact(copy), load_artifact()
    assert (deployed.id, deployed.version) == (packaged.id, packaged.version)


def test_settings_configmap_names_only_settings_and_they_parse() -> None:
    data = manifest("ConfigMap", "cds-service-settings")["data"]
    assert set(data) <= SETTINGS_NAMES
    fields = {name.removeprefix("CDS_").lower(): value for name, value in data.items()}
    Settings.model_validate(fields)


def test_network_policy_egress_is_dns_database_redis_and_https_only() -> None:
    policy = manifest("NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ports = {(port["protocol"], port["port"]) for rule in policy["egress"] for port in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 443)}
    assert all(rule.get("to") for rule in policy["egress"]), "an egress rule without `to` allows anywhere"


# ---------------------------------------------------------------- image and compose


def test_dockerfile_entrypoint_is_the_console_script_and_cmd_parses() -> None:
    dockerfile = instructions(DEPLOY / "Dockerfile")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    entrypoint, command = json.loads(last(dockerfile, "ENTRYPOINT")), json.loads(last(dockerfile, "CMD"))

    assert entrypoint == ["cds-service"] and "cds-service" in scripts
    args = _parser(1).parse_args(command)
    assert (args.command, args.host) == ("serve", "0.0.0.0")
    assert last(dockerfile, "EXPOSE") == str(args.port)
    assert f"127.0.0.1:{args.port}/healthz" in last(dockerfile, "HEALTHCHECK")
    assert "--workers" not in command, "workers come from CDS_WORKERS"


def test_dockerfile_runs_as_a_non_root_user_from_a_slim_base_with_pinned_dependencies() -> None:
    dockerfile = instructions(DEPLOY / "Dockerfile")
    user = last(dockerfile, "USER").split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert str(manifest("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == user
    assert "python:3.11-slim" in " ".join(
        arguments for name, arguments in dockerfile if name in {"ARG", "FROM"}
    )
    installs = [arguments for name, arguments in dockerfile if name == "RUN" and "pip install" in arguments]
    assert installs and all("--constraint constraints.txt" in run for run in installs)
    assert len([name for name, _ in dockerfile if name == "FROM"]) >= 2, "multi-stage"


def test_dockerfile_copies_only_what_exists_and_the_dockerignore_keeps_it() -> None:
    dockerfile = instructions(DEPLOY / "Dockerfile")
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for name, arguments in dockerfile:
        if name != "COPY" or "--from=" in arguments:
            continue
        *sources, _destination = shlex.split(arguments)
        for source in sources:
            assert (ROOT / source).exists(), source
            assert f"!{source.rstrip('/')}" in ignored.replace("/\n", "\n"), f"{source} is ignored"


def deploy_files() -> list[Path]:
    return [path for path in DEPLOY.rglob("*") if path.is_file()]


def test_every_cds_name_in_deploy_is_a_setting() -> None:
    used = {name for path in deploy_files() for name in re.findall(r"\bCDS_[A-Z0-9_]+\b", path.read_text())}
    assert used, "deploy/ names no setting at all?"
    assert used <= SETTINGS_NAMES, f"not settings: {sorted(used - SETTINGS_NAMES)}"


def test_compose_stack_has_the_service_its_stores_and_a_loaded_fhir_server() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    cds = services["cds"]
    assert {"cds", "postgres", "redis", "fhir", "fhir-loader"} <= set(services)
    assert cds["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / cds["build"]["context"]).resolve() == ROOT
    assert cds["environment"]["CDS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert cds["environment"]["CDS_REDIS_URL"].startswith("redis://redis:")
    assert services["fhir"]["image"].startswith("hapiproject/hapi:")
    loader = services["fhir-loader"]
    assert any(volume.startswith("../fhir_fixtures:") for volume in loader["volumes"])
    assert any(volume.startswith("./load_fixtures.py:") for volume in loader["volumes"])
    Settings.model_validate(
        {name.removeprefix("CDS_").lower(): value for name, value in cds["environment"].items()}
    )


@pytest.mark.parametrize("source", ["clients.example.yaml", "kubernetes/examples/secret.yaml"])
def test_example_clients_files_load(source: str, tmp_path: Path) -> None:
    if source.endswith("secret.yaml"):
        text = manifest("Secret", "cds-service-secrets")["stringData"]["clients.yaml"]
    else:
        text = (DEPLOY / source).read_text(encoding="utf-8")
    clients_file = tmp_path / "clients.yaml"
    clients_file.write_text(text, encoding="utf-8")

    clients = load_clients(clients_file)
    create_app(Settings(auth="jwt", clients_file=clients_file))  # what start-up checks

    assert len(clients) >= 1
    assert all(client.fhir_servers for client in clients)
