"""The service's Prometheus metrics: every series of design.md (Metrics), defined once, here.

Names and labels are contract (dashboards and alerts use them):

    cds_invocations_total{service,outcome}     one per recorded invocation (outcomes: decision 6)
    cds_invocation_duration_seconds            request to answer, audit write included
    cds_fhir_requests_total{outcome}           "ok" or a FhirError outcome (timeout, http-5xx, …)
    cds_fhir_request_duration_seconds          per FHIR GET
    cds_prefetch_keys_total{result}            hit / miss / null / error, per prefetch key
    cds_cards_total{topic}                     cards answered, by source.topic.code
    cds_feedback_total{outcome}                feedback items stored, by outcome
    cds_auth_failures_total{reason}            401s by failed check (defined in security.metrics)
    cds_audit_store_failures_total             audit store operations that failed
    cds_deadline_exceeded_total                invocations answered {"cards": []} at the deadline

Several workers: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``cds-service serve --workers N``
sets a fresh one), prometheus_client keeps each process's values in files there and
``/metrics`` sums them (``MultiProcessCollector``); without it, values live in the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from cds_service.security.metrics import AUTH_FAILURES

if TYPE_CHECKING:
    from cds_service.audit.records import InvocationRecord
    from cds_service.fhir.gatherer import GatherStats

__all__ = [
    "AUDIT_STORE_FAILURES",
    "AUTH_FAILURES",
    "CARDS",
    "CONTENT_TYPE",
    "DEADLINE_EXCEEDED",
    "FEEDBACK_TOTAL",
    "FHIR_REQUESTS",
    "FHIR_REQUEST_DURATION",
    "INVOCATIONS",
    "INVOCATION_DURATION",
    "MULTIPROCESS_DIR_VARIABLE",
    "PREFETCH_KEYS",
    "mark_worker_dead",
    "multiprocess_dir",
    "observe_gathering",
    "observe_invocation",
    "render_metrics",
]

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Around the 500 ms p95 target and up to the 1500 ms default deadline (CDS_DEADLINE_MS).
INVOCATION_BUCKETS_S = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
# A FHIR GET has CDS_FHIR_TIMEOUT_MS (1000 ms by default).
FHIR_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0)

# PrefetchStatus value → the label operators read as a hit rate.
PREFETCH_RESULTS: Mapping[str, str] = {"present": "hit", "missing": "miss", "null": "null", "error": "error"}
CARD_TOPICS = (
    "CalcRedFlags",
    "CalcMetabolicAbnormal",
    "CalcMetabolicWorkup",
    "CalcFurtherImaging",
    "CalcBenignPattern",
)
FEEDBACK_OUTCOMES = ("accepted", "overridden")

INVOCATIONS = Counter(
    "cds_invocations_total", "Recorded invocations, by service and outcome", ["service", "outcome"]
)
INVOCATION_DURATION = Histogram(
    "cds_invocation_duration_seconds",
    "Time from a valid hook request to its answer, audit write included",
    buckets=INVOCATION_BUCKETS_S,
)
FHIR_REQUESTS = Counter(
    "cds_fhir_requests_total", "FHIR requests made while gathering data, by outcome", ["outcome"]
)
FHIR_REQUEST_DURATION = Histogram(
    "cds_fhir_request_duration_seconds", "Duration of one FHIR request", buckets=FHIR_BUCKETS_S
)
PREFETCH_KEYS = Counter(
    "cds_prefetch_keys_total", "Prefetch keys a service needed, by what the client sent", ["result"]
)
CARDS = Counter("cds_cards_total", "Cards answered, by topic", ["topic"])
FEEDBACK_TOTAL = Counter("cds_feedback_total", "Feedback items received, by outcome", ["outcome"])
AUDIT_STORE_FAILURES = Counter(
    "cds_audit_store_failures_total", "Audit store operations that failed (answered with no cards)"
)
DEADLINE_EXCEEDED = Counter(
    "cds_deadline_exceeded_total", "Invocations that reached their deadline and answered no cards"
)


def _start_at_zero(counter: Counter, label: str, values: Iterable[str]) -> None:
    """Known label values exist from the start, so rate() and absent() work before the first."""
    for value in values:
        counter.labels(**{label: value})


_start_at_zero(PREFETCH_KEYS, "result", PREFETCH_RESULTS.values())
_start_at_zero(CARDS, "topic", CARD_TOPICS)
_start_at_zero(FEEDBACK_TOTAL, "outcome", FEEDBACK_OUTCOMES)
_start_at_zero(FHIR_REQUESTS, "outcome", ("ok",))


def observe_invocation(record: InvocationRecord, answer: Mapping[str, Any], seconds: float) -> None:
    """Count one recorded invocation; cards count only when they were in the answer (a store
    failure answers none, design.md decision 5)."""
    INVOCATIONS.labels(service=record.service, outcome=record.outcome).inc()
    INVOCATION_DURATION.observe(seconds)
    if record.outcome == "deadline":
        DEADLINE_EXCEEDED.inc()
    if answer.get("cards"):
        for card in record.cards:
            CARDS.labels(topic=card.topic).inc()


def observe_gathering(stats: GatherStats) -> None:
    """Prefetch keys and FHIR calls of one gathering, including one that ended in a 412."""
    for key_stats in stats.prefetch.values():
        status = str(key_stats.prefetch.value)
        PREFETCH_KEYS.labels(result=PREFETCH_RESULTS.get(status, status)).inc()
    for call in stats.fhir_calls:
        FHIR_REQUESTS.labels(outcome=call.outcome).inc()
        FHIR_REQUEST_DURATION.observe(call.seconds)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


def render_metrics() -> bytes:
    """The text exposition: summed over every worker's files in multiprocess mode."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def mark_worker_dead() -> None:
    """This worker is leaving: drop its live-gauge files (its counters stay: they are history)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
