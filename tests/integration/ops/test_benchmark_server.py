"""The speed benchmark's server: `serve` with the benchmark's app factory, two workers, both
endpoints answering the benchmark's request. Keeps benchmarks/report_sign_bench.py runnable."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "report_sign_bench.py"


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("report_sign_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("report_sign_bench", module)
    spec.loader.exec_module(module)
    return module


def test_benchmark_server_answers_floor_and_report_sign_with_two_workers(tmp_path: Path) -> None:
    bench = bench_module()
    body = bench.typical_request(datetime.now(UTC))
    assert bench.observation_count(body) >= 60 and bench.report_words(body) >= 300
    database_url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    with bench.running_server(database_url, tmp_path / "server.log", 2) as (base, pid):
        cpu_before = bench.server_cpu_s(pid)
        with httpx.Client(base_url=base, headers=JSON, timeout=30) as client:
            floor = client.post(bench.FLOOR_PATH, content=bench.body_bytes(body))
            answer = client.post(bench.SERVICE_PATH, content=bench.body_bytes(body))
        cpu_used = bench.server_cpu_s(pid) - cpu_before
    assert floor.status_code == 200 and floor.json() == bench.FLOOR_CARD
    assert answer.status_code == 200, answer.text
    assert [card["source"]["topic"]["code"] for card in answer.json()["cards"]] == ["CalcRedFlags"]
    assert cpu_used > 0  # the workers' CPU is counted, not only the supervisor's


JSON = {"Content-Type": "application/json"}


def test_sizing_benchmark_runs_with_two_workers_and_no_failures() -> None:
    """benchmarks/serve_throughput.py (deploy/README.md, Sizing) stays runnable end to end."""
    script = BENCH.parent / "serve_throughput.py"
    run = subprocess.run(
        [sys.executable, str(script), "--requests", "8", "--workers", "2", "--concurrency", "1", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    levels = [line for line in run.stdout.splitlines() if "requests/s" in line]
    assert len(levels) == 2 and all(line.rstrip().endswith("failures 0") for line in levels), run.stdout
    assert "serve stopped on SIGTERM with exit code 0" in run.stdout
