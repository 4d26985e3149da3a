"""report-sign against a floor endpoint, side by side, on one real server.

    python benchmarks/report_sign_bench.py [--requests 300] [--workers N] [--profile]

The script starts the service the way production does (a child process running
``cds_service.serve.serve``: migrations, the shared socket, ``--workers`` workers, one per CPU by
default like the image's ``CDS_WORKERS``), with CDS_AUTH=off and the audit store in a temporary
SQLite file. Every worker builds its app with this file's ``floor_app``: the service's app plus
a floor route, ``POST /bench/floor``, mounted only here. The floor reads the body with the
service's own reader (``read_json_object``: media type, size, depth, orjson) and answers a fixed
card, so the ratio is what the clinical work, the audit and the card rendering cost on top of
the same HTTP stack.

The request is a typical report-sign call with full prefetch: a fixture of ``fhir_fixtures/``
loaded through ``cds_service.fixtures`` (dates moved to today), its report replaced by a ~300-word
plain-text report and its lab bundle grown to ≥ 60 Observations (two years of monthly results).
Each measurement is bounded (``--requests`` calls, 300 by default) and the script stops by
itself; the child server is stopped by its own process id.

Prints p50/p99 latency at concurrency 1, then requests/s at concurrency 16 in ``--rounds``
rounds of both endpoints in turn (median), the server's CPU per call (its processes' user +
system time, from /proc) and the load generator's own, the throughput ratio (median of the
rounds' ratios, with their range), then the report-reading time per report in-process. The load
generator (httpx, one process) shares the machine's cores and needs over a millisecond of CPU per
call itself, so it, not the server, bounds the floor's throughput; the server's CPU per call is
the figure that does not depend on it. ``--profile``
adds a cProfile of the in-process pipeline (evaluate + render) for the same request. Targets
(issue 3 item 8, 2 cores): ratio ≥ 0.5, p50 ≤ 10 ms at concurrency 1, reading ≤ 2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import cProfile
import io
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import Request

HERE = Path(__file__).parent
FIXTURE = "redflag-growth-painful-lump"
SERVICE_PATH = "/cds-services/calcification-report-sign"
FLOOR_PATH = "/bench/floor"
ENDPOINTS = (("floor", FLOOR_PATH), ("report-sign", SERVICE_PATH))
CONCURRENCY = 16

REPORT_TEXT = """EXAM: XR RIGHT KNEE AND LOWER LEG, 3 VIEWS
CLINICAL HISTORY: 61-year-old woman with a firm, tender lump behind the right knee, slowly getting
bigger over four months. Twisted the knee playing tennis last spring. Type 2 diabetes. CKD stage 2
under annual review. No known malignancy. Query soft tissue calcification or loose body.
COMPARISON: Radiographs of the right knee from eighteen months ago.
TECHNIQUE: AP, lateral and skyline views of the right knee; AP and lateral views of the right
tibia and fibula.
FINDINGS:
Bones and joints: No fracture or dislocation. Bone density is preserved for age. No periosteal
reaction, cortical erosion or lytic lesion. Mild narrowing of the medial tibiofemoral joint space
with small marginal osteophytes. Small suprapatellar effusion. The patellofemoral joint is
preserved. No loose body is seen.
Soft tissues: A 2.6 x 1.9 x 3.1 cm oval focus of soft tissue calcification lies in the popliteal
fossa, in the subcutaneous fat posterior to the right knee, superficial to the fascia. Its
mineralisation is dense centrally with a faint, ill-defined periphery. Compared with the prior
study it has increased in size (previously 1.6 cm). There is no associated soft tissue mass
visible on the radiograph, although a small non-calcified component cannot be excluded.
Scattered tram-track vascular calcification of the popliteal and anterior tibial arteries,
in keeping with the history of diabetes. Two small rounded densities with lucent centres in the
calf soft tissues, likely phleboliths. No soft tissue gas or radiopaque foreign body.
IMPRESSION:
1. Enlarging 3.1 cm subcutaneous calcification posterior to the right knee, corresponding to the
tender palpable lump. Appearances are indeterminate; an MRI is advised to characterise it.
2. Incidental arterial calcification and phleboliths.
3. Mild medial compartment osteoarthritis with a small effusion. No fracture.
RECOMMENDATION: MRI of the right knee and calf without and with contrast. Clinical correlation
with calcium, phosphate and kidney function.
"""

# (LOINC, unit, value) for the monthly history: calcium, phosphate, creatinine, eGFR, albumin.
MONTHLY = (
    ("17861-6", "mg/dL", 9.3),
    ("2777-1", "mg/dL", 3.6),
    ("2160-0", "mg/dL", 0.9),
    ("98979-8", "mL/min/{1.73_m2}", 71.0),
    ("1751-7", "g/dL", 4.1),
)
UCUM = "http://unitsofmeasure.org"


# ---------------------------------------------------------------------------- the request


def observation(
    patient_id: str, index: int, loinc: str, unit: str, value: float, when: datetime
) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'bench-{index}')}",
        "resource": {
            "resourceType": "Observation",
            "id": f"bench-obs-{index}",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": when.isoformat().replace("+00:00", "Z"),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        },
        "search": {"mode": "match"},
    }


def typical_request(now: datetime) -> dict[str, Any]:
    """The fixture's report-sign call with a 300-word report and ≥ 60 lab Observations."""
    from cds_service.fixtures import load_scenario

    body = load_scenario(FIXTURE, now).request()
    prefetch = body["prefetch"]
    patient_id = prefetch["patient"]["id"]
    report = prefetch["report"]
    report["presentedForm"] = [
        {
            "contentType": "text/plain; charset=utf-8",
            "data": base64.b64encode(REPORT_TEXT.encode()).decode(),
            "title": "XR Right Knee and Lower Leg 3 Views",
        }
    ]
    entries = prefetch["labs"].setdefault("entry", [])
    index = 0
    for month in range(1, 14):  # 13 months × 5 analytes = 65 older results
        when = now - timedelta(days=30 * month + 20)
        for loinc, unit, value in MONTHLY:
            index += 1
            entries.append(
                observation(patient_id, index, loinc, unit, round(value + (month % 3) * 0.1, 2), when)
            )
    prefetch["labs"]["total"] = len(entries)
    return body


def report_words(body: dict[str, Any]) -> int:
    form = body["prefetch"]["report"]["presentedForm"][0]
    return len(base64.b64decode(form["data"]).decode().split())


def observation_count(body: dict[str, Any]) -> int:
    return sum(1 for e in body["prefetch"]["labs"]["entry"] if e["resource"]["resourceType"] == "Observation")


# ---------------------------------------------------------------------------- the server (child)


FLOOR_CARD = {
    "cards": [
        {
            "uuid": "00000000-0000-4000-8000-000000000000",
            "summary": "Floor: fixed card",
            "indicator": "info",
            "source": {"label": "benchmark floor"},
        }
    ]
}


def floor_app() -> Any:
    """The service's app with the floor route mounted: the app factory every worker calls."""
    from cds_service.api.app import create_app
    from cds_service.api.body import read_json_object
    from cds_service.api.responses import JsonResponse

    app = create_app()

    @app.post(FLOOR_PATH)
    async def floor(request: Request) -> JsonResponse:
        settings = request.app.state.settings
        await read_json_object(request, settings.max_body_bytes, settings.max_json_depth)
        return JsonResponse(FLOOR_CARD)

    return app


def serve(port: int, workers: int) -> None:
    """Serve through `cds-service serve`'s own path (migrations, shared socket, workers)."""
    from cds_service.serve import serve as serve_service
    from cds_service.settings import load_settings

    sys.exit(
        serve_service(
            load_settings(),
            host="127.0.0.1",
            port=port,
            workers=workers,
            app_factory=f"{Path(__file__).stem}:floor_app",
        )
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(database_url: str, log: Path, workers: int) -> Any:
    port = free_port()
    env = {
        **os.environ,
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": database_url,
        "CDS_RATE_LIMIT_PER_CLIENT": "0",
        "CDS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
        ),
    }
    # The server's log (CDS_AUTH=off warns on every call) goes to a file, shown only on failure.
    log_file = log.open("wb")
    command = [sys.executable, __file__, "--serve", str(port), "--workers", str(workers)]
    child = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if child.poll() is not None:
                raise SystemExit(f"the server exited with status {child.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not become ready within 30 s")
            time.sleep(0.1)
        yield base, child.pid
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log_file.close()


# ---------------------------------------------------------------------------- load


def body_bytes(body: dict[str, Any]) -> bytes:
    fresh = dict(body, hookInstance=str(uuid.uuid4()))
    return orjson.dumps(fresh)


async def one_call(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> float:
    content = body_bytes(body)
    start = time.perf_counter()
    response = await client.post(path, content=content, headers={"Content-Type": "application/json"})
    elapsed = time.perf_counter() - start
    if response.status_code != 200 or not response.json().get("cards"):
        raise SystemExit(f"{path}: HTTP {response.status_code} {response.text[:300]}")
    return elapsed * 1000


async def warm_up(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """Imports, lexicon compilation, pools; and the client's connections, opened one at a time.

    Concurrency rises from 1 to 16 in steps, so each new connection is opened while the others
    are busy, as a client's pool grows under load, and the kernel hands it to whichever worker is
    idle. Sixteen connections opened in one burst would all land on the worker that wakes first
    (it accepts every pending connection), leaving the others idle for the whole run.
    """
    for concurrency in range(1, CONCURRENCY + 1):
        await asyncio.gather(*(one_call(client, SERVICE_PATH, body) for _ in range(concurrency)))
    await throughput(client, FLOOR_PATH, body, 60)


async def latencies(client: httpx.AsyncClient, path: str, body: dict[str, Any], count: int) -> list[float]:
    return [await one_call(client, path, body) for _ in range(count)]


async def throughput(client: httpx.AsyncClient, path: str, body: dict[str, Any], count: int) -> float:
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one_call(client, path, body)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - start)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def commit_ms(folder: Path, commits: int = 200) -> float:
    """Median time of one small SQLite commit on this disk, as the audit store commits (WAL,
    synchronous=FULL: an fsync each). Every answer waits for one, so it moves the figures:
    seen here from 0.2 ms to 4 ms on the same machine within an hour."""
    import sqlite3

    connection = sqlite3.connect(folder / "fsync-probe.sqlite3", isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE probe (value INTEGER)")
        timings = []
        for value in range(commits):
            start = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO probe VALUES (?)", (value,))
            connection.execute("COMMIT")
            timings.append((time.perf_counter() - start) * 1000)
    finally:
        connection.close()
    return statistics.median(timings)


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its workers (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: parent pid
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def measure(
    base: str, server_pid: int, body: dict[str, Any], count: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Latency at concurrency 1, then ``rounds`` rounds of floor and report-sign throughput in
    turn: the machine's moods (another process, a slow disk moment) fall on both alike, and
    each round gives its own ratio."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    results: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await warm_up(client, body)
        for name, path in ENDPOINTS:
            timings = await latencies(client, path, body, count)
            results[name] = {"p50": percentile(timings, 0.5), "p99": percentile(timings, 0.99)}
        rates: dict[str, list[float]] = {name: [] for name, _ in ENDPOINTS}
        cpu_s = dict.fromkeys(rates, 0.0)
        client_cpu_s = dict.fromkeys(rates, 0.0)
        for _ in range(rounds):
            for name, path in ENDPOINTS:
                server_before, client_before = server_cpu_s(server_pid), own_cpu_s()
                rates[name].append(await throughput(client, path, body, count))
                cpu_s[name] += server_cpu_s(server_pid) - server_before
                client_cpu_s[name] += own_cpu_s() - client_before
    for name, _ in ENDPOINTS:
        results[name]["rps"] = statistics.median(rates[name])
        results[name]["cpu_ms"] = cpu_s[name] * 1000 / (count * rounds)
        results[name]["client_cpu_ms"] = client_cpu_s[name] * 1000 / (count * rounds)
    ratios = [service / floor for floor, service in zip(rates["floor"], rates["report-sign"], strict=True)]
    results["ratio"] = {"median": statistics.median(ratios), "low": min(ratios), "high": max(ratios)}
    return results


def own_cpu_s() -> float:
    """CPU seconds (user + system) this load generator has used so far."""
    times = os.times()
    return times.user + times.system


# ---------------------------------------------------------------------------- in-process


def reading_ms(body: dict[str, Any], runs: int) -> tuple[float, float]:
    from cds_service.clinical.report import read_report
    from cds_service.knowledge import load_artifact

    lexicons = load_artifact().lexicons
    report = body["prefetch"]["report"]
    read_report(report, [], {}, lexicons)  # compiles the lexicons once
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        read_report(report, [], {}, lexicons)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.fmean(timings), statistics.median(timings)


def profile_pipeline(body: dict[str, Any], runs: int) -> str:
    """cProfile of what report-sign does in-process after the body is parsed: prefetch to
    PatientData, evaluate, render, audit summaries (the HTTP and SQLite parts are not in it)."""
    from cds_service.cards import render_cards
    from cds_service.clinical.evaluate import evaluate
    from cds_service.clinical.patient_data import PatientData
    from cds_service.knowledge import load_artifact
    from cds_service.services.summaries import evaluation_summary, rule_firings

    artifact = load_artifact()
    prefetch = body["prefetch"]
    data = PatientData(
        report=prefetch["report"],
        patient=prefetch["patient"],
        observations=[e["resource"] for e in prefetch["labs"]["entry"]],
        conditions=[e["resource"] for e in prefetch["conditions"].get("entry", [])],
        service_requests=[e["resource"] for e in prefetch["orders"].get("entry", [])],
    )
    now = datetime.now(UTC)

    def once() -> None:
        evaluation = evaluate(data, artifact, now)
        render_cards(evaluation, artifact, "urn:calcification-cds:topic")
        evaluation_summary(evaluation)
        rule_firings(evaluation)

    once()
    start = time.perf_counter()
    for _ in range(runs):
        once()
    per_call = (time.perf_counter() - start) * 1000 / runs
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        once()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return f"in-process evaluate + render + summaries: {per_call:.2f} ms per call\n{out.getvalue()}"


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per measurement (default 300)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="throughput rounds, floor and report-sign in turn (default 3)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process pipeline too")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server workers (default: one per CPU)"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.workers)
        return
    body = typical_request(datetime.now(UTC))
    print(
        f"request: fixture {FIXTURE}, {observation_count(body)} Observations, "
        f"{report_words(body)}-word report, "
        f"{len(orjson.dumps(body)) // 1024} KiB; {args.requests} requests per measurement; "
        f"{os.cpu_count()} CPUs; server: cds-service serve with {args.workers} worker(s)"
    )
    with tempfile.TemporaryDirectory() as folder:
        print(f"audit disk: a SQLite commit (WAL, synchronous=FULL) takes {commit_ms(Path(folder)):.2f} ms")
        database_url = f"sqlite:///{Path(folder) / 'audit.sqlite3'}"
        with running_server(database_url, Path(folder) / "server.log", args.workers) as (base, pid):
            results = asyncio.run(measure(base, pid, copy.deepcopy(body), args.requests, args.rounds))
    ratio = results.pop("ratio")
    floor, service = results["floor"], results["report-sign"]
    print(
        f"{'endpoint':<12} {'p50 c=1':>9} {'p99 c=1':>9} {'req/s c=16':>11} {'server CPU/call':>16} "
        f"{'client CPU/call':>16}"
    )
    for name, figures in results.items():
        print(
            f"{name:<12} {figures['p50']:>6.2f} ms {figures['p99']:>6.2f} ms {figures['rps']:>11.1f} "
            f"{figures['cpu_ms']:>13.2f} ms {figures['client_cpu_ms']:>13.2f} ms"
        )
    mean, median = reading_ms(body, args.requests)
    print(
        f"throughput ratio report-sign / floor: {ratio['median']:.2f} (target ≥ 0.5; median of "
        f"{args.rounds} rounds, {ratio['low']:.2f}–{ratio['high']:.2f})"
    )
    print(
        f"server CPU per call, report-sign / floor: {service['cpu_ms'] / floor['cpu_ms']:.1f} × "
        "(the floor's throughput is bounded by this load generator, not by the server)"
    )
    print(f"report-sign p50 at concurrency 1: {service['p50']:.2f} ms (target ≤ 10 ms)")
    print(f"report reading: mean {mean:.2f} ms, median {median:.2f} ms per report (target ≤ 2 ms)")
    if args.profile:
        print(profile_pipeline(body, 100))


if __name__ == "__main__":
    main()
