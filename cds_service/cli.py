"""The `cds-service` command: serve, demo, rules, audit."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from cds_service.knowledge import ArtifactError, load_artifact
from cds_service.logs import configure_logging
from cds_service.security.clients import SecurityConfigError
from cds_service.settings import Settings, SettingsError, load_settings

log = logging.getLogger("cds_service.cli")


def _parser(settings_workers: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply pending migrations, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=settings_workers)
    demo = commands.add_parser("demo", help="send every fixture scenario to a running service")
    demo.add_argument("--url", default="http://127.0.0.1:8080")
    demo.add_argument("--issuer", help="JWT iss to sign calls with (needs --key)")
    demo.add_argument("--key", help="PEM private key to sign calls with")
    demo.add_argument("--kid", help="JWT kid (default: the key's RFC 7638 thumbprint)")
    demo.add_argument("--fixtures", help="fixture folder (default: the project's fhir_fixtures)")
    commands.add_parser("rules", help="print the knowledge artifact: rules, versions, status, dates")
    audit = commands.add_parser("audit", help="export or verify the audit trail")
    audit.add_argument("audit_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        configure_logging("INFO")
        print(f"cds-service: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    args = _parser(settings.workers).parse_args(arguments)
    try:
        return _run(args, settings)
    except (ArtifactError, SettingsError, SecurityConfigError) as error:
        print(f"cds-service: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from cds_service.serve import serve

        return serve(settings, host=args.host, port=args.port, workers=args.workers)
    if args.command == "demo":
        from cds_service.demo import run_demo

        return run_demo(args.url, fixtures=args.fixtures, issuer=args.issuer, key_file=args.key, kid=args.kid)
    if args.command == "rules":
        from cds_service.knowledge.describe import describe_artifact

        print(describe_artifact(load_artifact(settings.knowledge_file)))
        return 0
    from cds_service.audit.cli import audit_main

    return audit_main(list(args.audit_args), settings)
