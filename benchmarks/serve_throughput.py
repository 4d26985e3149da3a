"""Sizing: what one `cds-service serve` worker sustains, over real HTTP on 127.0.0.1.

    python benchmarks/serve_throughput.py [--requests 300] [--workers 1] [--concurrency 1 16]
                                          [--database-url postgresql+psycopg://…/empty_db]

Starts `cds-service serve` (CDS_AUTH=off, SQLite audit store in a temporary folder), then sends
report-sign calls with full prefetch — every fixture scenario in turn, each with a fresh
hookInstance, so each call is evaluated and audited — at each concurrency level. Give
--database-url (an empty database) to measure with PostgreSQL as in production. Prints the
start-up time, requests/s, p50/p99 latency and the resident memory of each worker process
(/proc/<pid>/status). Figures, not a timed test (design.md decision 11); deploy/README.md
(Sizing) turns them into guidance.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from cds_service.fixtures import load_scenarios

SERVICE_PATH = "/cds-services/calcification-report-sign"
JSON = {"Content-Type": "application/json"}
START_UP_BOUND_S = 30.0
WARM_UP_REQUESTS = 30


@dataclass(frozen=True)
class Round:
    concurrency: int
    requests: int
    elapsed_s: float
    latencies_s: list[float]
    failures: int

    @property
    def per_second(self) -> float:
        return self.requests / self.elapsed_s

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(
    folder: Path, port: int, workers: int, database_url: str | None
) -> tuple[subprocess.Popen[bytes], float]:
    env = {
        **os.environ,
        "CDS_AUTH": "off",
        "CDS_RATE_LIMIT_PER_CLIENT": "0",
        "CDS_LOG_LEVEL": "WARNING",
        "CDS_DATABASE_URL": database_url or f"sqlite:///{folder / 'audit.sqlite3'}",
    }
    command = [
        sys.executable,
        "-m",
        "cds_service",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=(folder / "serve.log").open("wb")
    )
    wait_until_live(process, f"http://127.0.0.1:{port}")
    return process, time.monotonic() - started


def wait_until_live(process: subprocess.Popen[bytes], base_url: str) -> None:
    give_up_at = time.monotonic() + START_UP_BOUND_S
    while time.monotonic() < give_up_at:
        if process.poll() is not None:
            raise SystemExit(f"serve exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.02)
    raise SystemExit(f"serve did not answer /healthz within {START_UP_BOUND_S} s")


def request_bodies() -> Iterator[dict[str, Any]]:
    """Every scenario in turn, forever; a fresh hookInstance each time (no replayed answers)."""
    scenarios = load_scenarios(datetime.now(UTC))
    for scenario in itertools.cycle(scenarios):
        yield scenario.request()


async def run_round(
    client: httpx.AsyncClient, url: str, bodies: Iterator[dict[str, Any]], requests: int, concurrency: int
) -> Round:
    queue = [orjson.dumps(next(bodies)) for _ in range(requests)]  # built before the clock starts
    latencies: list[float] = []
    failures = 0

    async def caller() -> None:
        nonlocal failures
        while queue:
            content = queue.pop()
            sent = time.perf_counter()
            response = await client.post(url, content=content, headers=JSON)
            latencies.append(time.perf_counter() - sent)
            failures += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Round(concurrency, requests, elapsed, latencies, failures)


def worker_pids(serve_pid: int, workers: int) -> list[int]:
    """With one worker uvicorn serves in the serve process itself; with more, in its children."""
    if workers == 1:
        return [serve_pid]
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
    return [int(pid) for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def report(result: Round) -> None:
    print(
        f"  concurrency {result.concurrency:>2}: {result.per_second:7.1f} requests/s   "
        f"p50 {result.percentile_ms(0.50):6.1f} ms   p99 {result.percentile_ms(0.99):6.1f} ms   "
        f"mean {statistics.fmean(result.latencies_s) * 1000:6.1f} ms   failures {result.failures}"
    )


async def benchmark(url: str, requests: int, levels: list[int]) -> list[Round]:
    """One client for every round. Its connections are opened while concurrency rises one at a
    time, so the kernel hands each new one to an idle worker; opened in one burst they would all
    land on the worker that wakes first (deploy/README.md, Sizing)."""
    bodies = request_bodies()
    most = max(levels)
    limits = httpx.Limits(max_connections=most, max_keepalive_connections=most)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        for concurrency in range(1, most + 1):
            await run_round(client, url, bodies, max(WARM_UP_REQUESTS // most, 1) * concurrency, concurrency)
        return [await run_round(client, url, bodies, requests, level) for level in levels]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="calls per concurrency level")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--database-url", help="audit store (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cds-bench-") as folder:
        port = free_port()
        process, start_up_s = start_service(Path(folder), port, args.workers, args.database_url)
        try:
            pids = worker_pids(process.pid, args.workers)
            store = (args.database_url or "sqlite").split(":")[0]
            print(
                f"serve with {args.workers} worker(s), audit store {store}: live after {start_up_s:.2f} s; "
                f"RSS at start {', '.join(f'{resident_mib(pid):.0f}' for pid in pids)} MiB"
            )
            rounds = asyncio.run(
                benchmark(f"http://127.0.0.1:{port}{SERVICE_PATH}", args.requests, args.concurrency)
            )
            for result in rounds:
                report(result)
            print(
                f"RSS per worker after the run: {', '.join(f'{resident_mib(pid):.0f}' for pid in pids)} MiB"
            )
            if args.workers > 1:
                print(f"RSS of the supervising serve process: {resident_mib(process.pid):.0f} MiB")
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=30)
            print(f"serve stopped on SIGTERM with exit code {exit_code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
