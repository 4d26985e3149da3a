"""The clinical fixture scenarios of `fhir_fixtures/`, loaded as they would look today.

Each scenario folder holds `bundle.json` (a FHIR R4 transaction of the patient's data),
`request.json` (the hook call, report-sign unless expected.json names another `hook`, with full
prefetch) and `expected.json` (the visible card topics the spec predicts). The files are
written as of the scenario's `anchor` moment; a loaded
scenario has every FHIR date, dateTime and instant moved forward by (now − anchor), so lab
recency, order age and the patient's age evaluate the same whenever the scenario runs. The
demo, the tests and the FHIR test server all load scenarios through this module.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "PLACEHOLDER_FHIR_SERVER",
    "Expectation",
    "FixtureError",
    "Scenario",
    "default_fixtures_dir",
    "load_scenario",
    "load_scenarios",
    "materialise_bundles",
    "scenario_names",
    "shift_dates",
]

#: The `fhirServer` written in the request files; a loaded request names the real server.
PLACEHOLDER_FHIR_SERVER = "http://127.0.0.1:8081/fhir/R4"

_FHIR_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$")


class FixtureError(ValueError):
    """A scenario folder is missing a file or holds something unusable; the message names it."""


@dataclass(frozen=True)
class Expectation:
    """What the clinical spec predicts for a scenario (expected.json)."""

    anchor: datetime
    description: str
    topics: tuple[str, ...]
    indicators: Mapping[str, str]
    spec: tuple[str, ...]
    silent: tuple[str, ...] = ()
    suggestion_codes: tuple[str, ...] = ()
    absent_suggestion_codes: tuple[str, ...] = ()
    binary_report: bool = False  # the report's text is a Binary fetched from fhirServer
    hook: str = "report-sign"  # the hook request.json calls
    report_topics: tuple[tuple[str, str], ...] = ()  # (report id, topic) of each card, when given


@dataclass(frozen=True)
class Scenario:
    name: str
    bundle: dict[str, Any]
    expected: Expectation
    _request: dict[str, Any]

    @property
    def patient_id(self) -> str:
        return str(self._request["context"]["patientId"])

    @property
    def report_id(self) -> str:
        return str(self._request["context"]["reportId"])

    def request(self) -> dict[str, Any]:
        """The hook request with full prefetch and a fresh hookInstance (each call is new)."""
        body = copy.deepcopy(self._request)
        body["hookInstance"] = str(uuid.uuid4())
        return body

    def request_without_prefetch(self) -> dict[str, Any]:
        """The same call with no prefetch at all: the service must read `fhirServer`."""
        body = self.request()
        body.pop("prefetch", None)
        return body

    def resources(self) -> list[dict[str, Any]]:
        return [entry["resource"] for entry in self.bundle.get("entry", [])]


def default_fixtures_dir() -> Path:
    """`fhir_fixtures/` of the project this package is installed from (editable install)."""
    return Path(__file__).resolve().parents[1] / "fhir_fixtures"


def scenario_names(root: Path | None = None, *, hook: str = "report-sign") -> list[str]:
    """The scenarios whose request calls `hook` (report-sign by default)."""
    folder = root or default_fixtures_dir()
    if not folder.is_dir():
        raise FixtureError(f"no fixture folder at {folder}")
    found = sorted(p for p in folder.iterdir() if (p / "expected.json").is_file())
    return [p.name for p in found if _hook_of(p) == hook]


def _hook_of(folder: Path) -> str:
    raw = _read_json(folder / "expected.json")
    return str(raw.get("hook", "report-sign")) if isinstance(raw, dict) else "report-sign"


def load_scenarios(
    now: datetime, *, root: Path | None = None, fhir_server: str | None = None, hook: str = "report-sign"
) -> list[Scenario]:
    names = scenario_names(root, hook=hook)
    return [load_scenario(name, now, root=root, fhir_server=fhir_server) for name in names]


def load_scenario(
    name: str, now: datetime, *, root: Path | None = None, fhir_server: str | None = None
) -> Scenario:
    """One scenario as of `now` (timezone-aware), naming `fhir_server` in its request."""
    if now.tzinfo is None:
        raise FixtureError("now must be timezone-aware")
    folder = (root or default_fixtures_dir()) / name
    expected = _expectation(_read_json(folder / "expected.json"), folder)
    delta = now.replace(microsecond=0) - expected.anchor
    server = fhir_server.rstrip("/") if fhir_server else PLACEHOLDER_FHIR_SERVER
    bundle = shift_dates(_read_json(folder / "bundle.json"), delta)
    request = _with_fhir_server(shift_dates(_read_json(folder / "request.json"), delta), server)
    return Scenario(name=name, bundle=bundle, expected=expected, _request=request)


def materialise_bundles(scenarios: Iterable[Scenario], target: Path) -> list[Path]:
    """Write each scenario's shifted bundle to `target` (a folder a FHIR server can load)."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for scenario in scenarios:
        path = target / f"{scenario.name}.json"
        path.write_text(json.dumps(scenario.bundle), encoding="utf-8")
        written.append(path)
    return written


def shift_dates(value: Any, delta: timedelta) -> Any:
    """A copy of a FHIR JSON value with every date, dateTime and instant moved by `delta`."""
    if isinstance(value, dict):
        return {key: shift_dates(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [shift_dates(item, delta) for item in value]
    if isinstance(value, str) and _FHIR_DATE.match(value):
        return _shift_one(value, delta)
    return value


def _shift_one(text: str, delta: timedelta) -> str:
    if "T" not in text:
        return (date.fromisoformat(text) + timedelta(days=round(delta / timedelta(days=1)))).isoformat()
    moved = datetime.fromisoformat(text) + delta
    written = moved.isoformat(timespec="milliseconds" if "." in text else "seconds")
    return written.replace("+00:00", "Z") if text.endswith("Z") else written


def _with_fhir_server(value: Any, server: str) -> Any:
    if isinstance(value, dict):
        return {key: _with_fhir_server(item, server) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_fhir_server(item, server) for item in value]
    if isinstance(value, str) and value.startswith(PLACEHOLDER_FHIR_SERVER):
        return server + value[len(PLACEHOLDER_FHIR_SERVER) :]
    return value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"missing fixture file {path}") from None
    except json.JSONDecodeError as error:
        raise FixtureError(f"{path}: invalid JSON ({error})") from None


def _expectation(raw: Any, folder: Path) -> Expectation:
    try:
        anchor = datetime.fromisoformat(raw["anchor"])
        return Expectation(
            anchor=anchor,
            description=str(raw["description"]),
            topics=tuple(sorted(raw["topics"])),
            indicators=dict(raw.get("indicators", {})),
            spec=tuple(raw.get("spec", ())),
            silent=tuple(raw.get("silent", ())),
            suggestion_codes=tuple(raw.get("suggestionCodes", ())),
            absent_suggestion_codes=tuple(raw.get("absentSuggestionCodes", ())),
            binary_report=bool(raw.get("binaryReport", False)),
            hook=str(raw.get("hook", "report-sign")),
            report_topics=tuple((str(t["report"]), str(t["topic"])) for t in raw.get("reportTopics", ())),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise FixtureError(f"{folder / 'expected.json'}: {error!r}") from None
