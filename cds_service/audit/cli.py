"""``cds-service audit export|verify``: the operator's view of the audit trail.

The lead's ``cds_service/cli.py`` dispatches ``cds-service audit …`` here. Records go to
stdout, everything else to stderr, so ``audit export > trail.ndjson`` is clean.

Exit codes: 0 done (chain intact); 1 the chain is broken (the first broken record is named);
2 usage error or the store cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cds_service.audit.engine import make_engine, sqlite_file
from cds_service.audit.export import export
from cds_service.audit.migrate import upgrade_database
from cds_service.audit.verify import verify_chain
from cds_service.settings import Settings

__all__ = ["audit_main", "upgrade_database"]

EXIT_OK, EXIT_BROKEN, EXIT_FAILED = 0, 1, 2


def parse_since(value: str) -> datetime:
    """An ISO date or date-time; without a zone it is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since must be an ISO date or date-time, e.g. 2026-07-01 or 2026-07-01T08:00:00Z"
            f" (got {value!r})"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service audit", description="The audit trail.")
    commands = parser.add_subparsers(dest="command", required=True)
    exporting = commands.add_parser("export", help="NDJSON of invocations with cards and feedback")
    exporting.add_argument("--since", type=parse_since, help="only invocations received at or after")
    exporting.add_argument(
        "--format",
        choices=("ndjson", "fhir"),
        default="ndjson",
        help="plain records, or FHIR R4 GuidanceResponse + Provenance",
    )
    commands.add_parser("verify", help="check the hash chain; exit 1 naming the first broken record")
    return parser


def audit_main(
    argv: Sequence[str], settings: Settings, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    arguments = list(argv[1:] if argv and argv[0] == "audit" else argv)
    try:
        options = _parser().parse_args(arguments)
    except SystemExit as stop:
        return EXIT_OK if stop.code == 0 else EXIT_FAILED
    missing = _missing_sqlite_file(settings.database_url)
    if missing:
        print(f"audit store not found: {missing} (nothing has been recorded yet)", file=err)
        return EXIT_FAILED
    engine = make_engine(settings.database_url)
    try:
        if options.command == "export":
            return _export(engine, options.since, options.format, out, err)
        return _verify(engine, out, err)
    except SQLAlchemyError as failure:
        print(f"audit store cannot be read: {str(failure).splitlines()[0]}", file=err)
        return EXIT_FAILED
    finally:
        engine.dispose()


def _missing_sqlite_file(database_url: str) -> str | None:
    path = sqlite_file(make_url(database_url))
    return str(path) if path is not None and not path.exists() else None


def _export(engine: Engine, since: datetime | None, export_format: str, out: TextIO, err: TextIO) -> int:
    count = export(engine, out.write, since, "fhir" if export_format == "fhir" else "ndjson")
    out.flush()
    print(f"exported {count} invocations ({export_format})", file=err)
    return EXIT_OK


def _verify(engine: Engine, out: TextIO, err: TextIO) -> int:
    report = verify_chain(engine)
    if report.ok:
        print(report.summary(), file=out)
        return EXIT_OK
    print(report.summary(), file=err)
    return EXIT_BROKEN
