"""CDS_OTEL=on: one span around the data gathering and one around the evaluation, carrying the
hook and hookInstance only; off (the default): no span at all. The OpenTelemetry API is
replaced by a recording fake (no SDK is installed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from cds_service import tracing
from cds_service.settings import Settings
from tests.integration.ops.conftest import REPORT_SIGN, running_app, scenario

pytestmark = pytest.mark.anyio


@dataclass
class RecordingTracer:
    spans: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def get_tracer(self, name: str) -> RecordingTracer:
        return self

    @contextmanager
    def start_as_current_span(self, name: str, attributes: dict[str, str]) -> Iterator[None]:
        self.spans.append((name, attributes))
        yield


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingTracer:
    tracer = RecordingTracer()
    monkeypatch.setattr(tracing, "trace", tracer)
    return tracer


@pytest.mark.parametrize(("otel", "expected"), [("on", ["cds.gather", "cds.evaluate"]), ("off", [])])
async def test_spans_wrap_gathering_and_evaluation_only_when_on(
    recorded: RecordingTracer, otel: str, expected: list[str]
) -> None:
    body: dict[str, Any] = scenario().request()
    async with running_app(Settings(auth="off", rate_limit_per_client=0, otel=otel)) as client:
        assert (await client.post(REPORT_SIGN, json=body)).status_code == 200

    assert [name for name, _ in recorded.spans] == expected
    for _, attributes in recorded.spans:
        assert attributes == {"cds.hook": "report-sign", "cds.hook_instance": body["hookInstance"]}
