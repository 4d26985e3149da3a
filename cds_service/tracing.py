"""Optional OpenTelemetry tracing, off by default (``CDS_OTEL=on`` turns it on).

Two spans per invocation: ``cds.gather`` (prefetch and the FHIR calls) and ``cds.evaluate``
(the clinical evaluation), with the hook and the hookInstance as attributes — never
patient data. Only the OpenTelemetry *API* is used (it comes with FastAPI): the spans go
wherever the process's OpenTelemetry SDK sends them. To export them, install
``opentelemetry-sdk`` and an exporter (e.g. ``opentelemetry-exporter-otlp``) and start the
service under ``opentelemetry-instrument cds-service serve`` with the usual ``OTEL_*``
variables; without an SDK, or with ``CDS_OTEL=off``, a span costs nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from cds_service.settings import Settings

try:
    from opentelemetry import trace
except ImportError:  # pragma: no cover - the API is a FastAPI dependency
    trace = None  # type: ignore[assignment]

TRACER_NAME = "cds_service"


def span(settings: Settings, name: str, *, hook: str, hook_instance: str) -> AbstractContextManager[Any]:
    if settings.otel != "on" or trace is None:
        return nullcontext()
    attributes = {"cds.hook": hook, "cds.hook_instance": hook_instance}
    return trace.get_tracer(TRACER_NAME).start_as_current_span(name, attributes=attributes)
