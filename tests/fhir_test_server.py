"""Where the shared FHIR R4 test server lives (`../shared/tools/fhir-server`, used in place).

CI lays `shared/` beside the checkout. A clone made elsewhere (e.g. `git clone . /tmp/x`) finds
it beside the repository it was cloned from; `CDS_SHARED_DIR` names it explicitly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "config", "--get", "remote.origin.url"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(url) if url and Path(url).is_dir() else None


def shared_dir() -> Path:
    candidates = [os.environ.get("CDS_SHARED_DIR"), PROJECT_ROOT / ".." / "shared"]
    origin = _origin_checkout()
    if origin is not None:
        candidates.append(origin / ".." / "shared")
    for candidate in candidates:
        if candidate and (Path(candidate) / "tools" / "fhir-server" / "fhir_server.py").is_file():
            return Path(candidate).resolve()
    raise RuntimeError(
        "the shared FHIR test server was not found: put shared/ beside the project "
        "or set CDS_SHARED_DIR to it"
    )


def fhir_server_tool() -> Path:
    return shared_dir() / "tools" / "fhir-server"


def running_fhir_server() -> Callable[..., AbstractContextManager[str]]:
    """The `running_fhir_server(data=[...])` context manager of the shared tool."""
    tool = str(fhir_server_tool())
    if tool not in sys.path:
        sys.path.insert(0, tool)
    from fhir_server import running_fhir_server as start  # type: ignore[import-not-found]

    server: Callable[..., AbstractContextManager[str]] = start
    return server


__all__ = ["PROJECT_ROOT", "fhir_server_tool", "running_fhir_server", "shared_dir"]
