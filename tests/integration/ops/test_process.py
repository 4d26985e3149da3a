"""`cds-service serve` as operators run it: a real process on a free port, ready quickly, and
a clean exit 0 on SIGTERM (what Kubernetes and `docker stop` send) after in-flight work.
Start-up figures are printed here; the numbers to quote come from benchmarks/."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from cds_service.serve import _listening_socket
from tests.integration.ops.conftest import REPORT_SIGN, scenario, value

START_UP_BOUND_S = 15.0  # wide: a loaded CI machine; benchmarks/ measures the real figure
EXIT_BOUND_S = 20.0


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    base_url: str
    start_up_s: float
    log_path: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_live(process: subprocess.Popen[bytes], base_url: str, bound_s: float) -> None:
    give_up_at = time.monotonic() + bound_s
    while time.monotonic() < give_up_at:
        assert process.poll() is None, f"serve exited early with {process.returncode}"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"serve not live after {bound_s} s")


def start_service(tmp_path: Path, workers: int) -> RunningService:
    port = free_port()
    env = {
        **os.environ,
        "CDS_AUTH": "off",
        "CDS_RATE_LIMIT_PER_CLIENT": "0",
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "CDS_WORKERS": str(workers),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "cds_service", "serve", "--host", "127.0.0.1", "--port", str(port)]
    started = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp_path)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_live(process, base_url, START_UP_BOUND_S)
    return RunningService(process, base_url, time.monotonic() - started, log_path)


def stop(service: RunningService) -> int:
    service.process.send_signal(signal.SIGTERM)
    return service.process.wait(timeout=EXIT_BOUND_S)


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[RunningService]:
    service = start_service(tmp_path, workers=1)
    yield service
    if service.process.poll() is None:
        service.process.kill()
        service.process.wait()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[RunningService]:
    service = start_service(tmp_path, workers=2)
    yield service
    if service.process.poll() is None:
        service.process.kill()
        service.process.wait()


def test_starts_answers_and_exits_0_on_sigterm(one_worker: RunningService) -> None:
    print(f"\nstart-up (process start to /healthz 200): {one_worker.start_up_s:.2f} s")
    ready = httpx.get(f"{one_worker.base_url}/readyz", timeout=5)
    answer = httpx.post(one_worker.base_url + REPORT_SIGN, json=scenario().request(), timeout=10)

    exit_code = stop(one_worker)

    assert ready.status_code == 200
    assert [card["source"]["topic"]["code"] for card in answer.json()["cards"]] == ["CalcRedFlags"]
    assert exit_code == 0, one_worker.log_path.read_text()


def test_two_workers_sum_their_metrics_log_json_and_exit_0(two_workers: RunningService) -> None:
    print(f"\nstart-up with 2 workers: {two_workers.start_up_s:.2f} s")
    calls, scrapes = 6, 8
    url = two_workers.base_url
    for _ in range(calls):  # a new connection each time, so that both workers take some
        assert httpx.post(url + REPORT_SIGN, json=scenario().request(), timeout=10).status_code == 200
    seen = [httpx.get(f"{url}/metrics", timeout=5).text for _ in range(scrapes)]  # whichever worker

    exit_code = stop(two_workers)

    labels = {"service": "calcification-report-sign", "outcome": "cards"}
    assert [value(text, "cds_invocations_total", **labels) for text in seen] == [calls] * scrapes
    log_lines = two_workers.log_path.read_text().splitlines()
    logged = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert len([entry for entry in logged if entry["message"] == "invocation"]) == calls
    assert exit_code == 0, two_workers.log_path.read_text()


def test_connections_to_several_workers_are_not_delayed_by_nagle() -> None:
    """Workers share the parent's socket; an accepted connection must have TCP_NODELAY, or each
    answer waits ~40 ms for the client's delayed ACK."""
    config = uvicorn.Config(
        "cds_service.api.app:create_app", host="127.0.0.1", port=0, workers=2, log_config=None
    )
    with _listening_socket(config) as listener:
        listener.listen(1)
        with socket.create_connection(listener.getsockname()[:2]), listener.accept()[0] as accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
