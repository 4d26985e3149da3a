"""The security package's Prometheus counters (names are contract: design.md, Metrics)."""

from __future__ import annotations

from prometheus_client import Counter

AUTH_FAILURES = Counter(
    "cds_auth_failures_total",
    "Calls refused with 401, by the check that failed",
    ["reason"],
)
REPLAY_CACHE_FALLBACKS = Counter(
    "cds_replay_cache_fallbacks_total",
    "jti checks made in the per-process cache because Redis could not be reached",
)
