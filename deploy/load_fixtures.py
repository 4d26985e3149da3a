"""One-shot loader of the compose stack: posts every fixture scenario's transaction bundle to
the HAPI FHIR server, dated as of now (`cds_service.fixtures` shifts the dates so labs stay
recent), then exits 0. Run inside the cds-service image:

    python /deploy/load_fixtures.py --fhir http://fhir:8080/fhir --fixtures /fixtures
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from cds_service.fixtures import load_scenarios

WAIT_FOR_SERVER_S = 300
POLL_EVERY_S = 3


def wait_for_server(fhir_base: str) -> None:
    """HAPI takes a minute or more to start; poll its CapabilityStatement until it answers."""
    give_up_at = time.monotonic() + WAIT_FOR_SERVER_S
    while True:
        try:
            with urllib.request.urlopen(f"{fhir_base}/metadata", timeout=10):
                return
        except (urllib.error.URLError, OSError) as problem:
            if time.monotonic() > give_up_at:
                message = f"FHIR server {fhir_base} not up after {WAIT_FOR_SERVER_S} s: {problem}"
                raise SystemExit(message) from None
            time.sleep(POLL_EVERY_S)


def post_transaction(fhir_base: str, bundle: dict[str, object]) -> int:
    request = urllib.request.Request(
        fhir_base,
        data=json.dumps(bundle).encode(),
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fhir", default="http://fhir:8080/fhir")
    parser.add_argument("--fixtures", type=Path, default=Path("/fixtures"))
    args = parser.parse_args()
    fhir_base = args.fhir.rstrip("/")
    wait_for_server(fhir_base)
    scenarios = load_scenarios(datetime.now(UTC), root=args.fixtures, fhir_server=fhir_base)
    for scenario in scenarios:
        status = post_transaction(fhir_base, scenario.bundle)
        print(f"{scenario.name}: HTTP {status}", file=sys.stderr)
    print(f"loaded {len(scenarios)} scenarios into {fhir_base}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
