"""The governance page in a real browser: Debian's chromium, headless, against a real uvicorn server.

Chromium cannot send an ``Authorization`` header from its command line, so the server here runs
the app behind a test-only ASGI wrapper that adds the admin token to every request. The product
itself never accepts a token any other way (no query-string token).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from cds_service.api.app import create_app
from cds_service.audit.records import FeedbackRecord, OverrideReasonRecord
from cds_service.audit.sql_store import SqlAuditStore
from tests.integration.audit.factories import make_record
from tests.integration.governance.conftest import ADMIN_TOKEN, settings

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ANGRY = "<script>alert(1)</script> Fires on every phlebolith!"


def admin_header(app: ASGIApp, token: str) -> ASGIApp:
    """Test-only: every HTTP request reaches the app with the admin bearer token."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(name, value) for name, value in scope["headers"] if name != b"authorization"]
            scope = {**scope, "headers": [*headers, (b"authorization", f"Bearer {token}".encode())]}
        await app(scope, receive, send)

    return wrapped


async def record_recent_activity(store: SqlAuditStore) -> None:
    """Cards this week and last: one overridden with an angry comment, one accepted."""
    now = datetime.now(UTC)
    shown = [
        make_record(number, received_at=now - timedelta(days=days))
        for number, days in ((1, 8), (2, 7), (3, 1), (4, 0))
    ]
    for record in [*shown, make_record(5, outcome="out-of-scope", received_at=now)]:
        await store.record_invocation(record)
    reason = OverrideReasonRecord("not-relevant", "urn:calcification-cds:override", user_comment=ANGRY)
    await store.record_feedback(
        shown[0].service,
        [
            FeedbackRecord(shown[0].cards[0].uuid, "overridden", now, reasons=(reason,)),
            FeedbackRecord(shown[1].cards[0].uuid, "accepted", now, accepted_suggestions=("x",)),
        ],
        None,
    )


@pytest.fixture
def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        reason = "chromium not installed"
        print(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def governance_url(store: SqlAuditStore, database_url: str) -> Iterator[str]:
    """The page served by uvicorn on a free 127.0.0.1 port, in a thread, until the test ends."""
    asyncio.run(record_recent_activity(store))
    app = admin_header(create_app(settings(database_url), audit=store), ADMIN_TOKEN)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/governance"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def run_chromium(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        *arguments,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def test_the_page_renders_in_chromium(chromium: str, governance_url: str, tmp_path: Path) -> None:
    dumped = run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", governance_url)
    screenshot = tmp_path / "governance.png"
    shot = run_chromium(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        governance_url,
    )

    dom = dumped.stdout
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "Rule governance" in dom and "CalcMetabolicWorkup" in dom and "CalcFurtherImaging" in dom
    assert '<div class="tile"><b>5</b><span>Invocations</span></div>' in dom
    assert '<div class="tile"><b>4</b><span>Cards shown</span></div>' in dom
    assert '<div class="tile"><b>50%</b><span>Override rate</span></div>' in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Fires on every phlebolith!" in dom
    assert "<script" not in dom.lower()
    assert "target 500 ms" in dom
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 30_000  # a blank 1280×2000 page compresses to a few kB
    print(f"screenshot: {screenshot}")
