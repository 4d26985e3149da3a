"""The output guard: every response leaves as CDS Hooks 2.0 allows, or not at all.

Drops null and empty values (CDS Hooks §1: never null, never empty, except ``cards: []``) and
checks what a client would reject: a uuid on every card and suggestion, summary < 140
characters, ``selectionBehavior`` iff suggestions, a valid indicator, a display on every
override reason, an action description and resource on every create.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from cds_service.cdshooks.models import CdsResponse

INDICATORS = frozenset({"info", "warning", "critical"})
SELECTION_BEHAVIORS = frozenset({"at-most-one", "any"})


class OutputGuardError(Exception):
    """A response broke a CDS Hooks rule; it is a defect of ours and never sent."""


def prune_empty(value: Any) -> Any:
    """Remove None, '', [] and {} recursively (lists keep their order)."""
    if isinstance(value, dict):
        return {key: kept for key, item in value.items() if (kept := _pruned(item)) is not _EMPTY}
    if isinstance(value, list):
        return [kept for item in value if (kept := _pruned(item)) is not _EMPTY]
    return value


_EMPTY = object()


def _pruned(item: Any) -> Any:
    """The item pruned, or _EMPTY when nothing of it is left."""
    if isinstance(item, dict | list):
        item = prune_empty(item)
        return item if item else _EMPTY
    return _EMPTY if item is None or item == "" else item


def guarded_response(response: CdsResponse) -> dict[str, Any]:
    """The response as JSON-ready data, pruned and checked; raises OutputGuardError."""
    body = prune_empty(response.model_dump(mode="json", exclude_none=True))
    body.setdefault("cards", [])
    card_ids: set[str] = set()
    for index, card in enumerate(body["cards"]):
        _check_card(card, f"cards[{index}]", card_ids)
    return body  # type: ignore[no-any-return]


def _check_uuid(value: object, where: str, seen: set[str]) -> None:
    try:
        uuid_module.UUID(str(value))
    except ValueError:
        raise OutputGuardError(f"{where}.uuid is missing or not a UUID") from None
    if value in seen:
        raise OutputGuardError(f"{where}.uuid is not unique")
    seen.add(str(value))


def _check_card(card: dict[str, Any], where: str, seen: set[str]) -> None:
    _check_uuid(card.get("uuid"), where, seen)
    summary = card.get("summary", "")
    if not summary or len(summary) >= 140:
        raise OutputGuardError(f"{where}.summary must be 1-139 characters (has {len(summary)})")
    if card.get("indicator") not in INDICATORS:
        raise OutputGuardError(f"{where}.indicator {card.get('indicator')!r} is not allowed")
    if not card.get("source", {}).get("label"):
        raise OutputGuardError(f"{where}.source.label is required")
    suggestions = card.get("suggestions", [])
    if bool(suggestions) != ("selectionBehavior" in card):
        raise OutputGuardError(f"{where}: selectionBehavior must be present iff there are suggestions")
    if suggestions and card["selectionBehavior"] not in SELECTION_BEHAVIORS:
        raise OutputGuardError(f"{where}.selectionBehavior is not allowed")
    if (
        card.get("selectionBehavior") == "at-most-one"
        and sum(1 for s in suggestions if s.get("isRecommended")) > 1
    ):
        raise OutputGuardError(f"{where}: at-most-one allows one recommended suggestion")
    for position, suggestion in enumerate(suggestions):
        _check_suggestion(suggestion, f"{where}.suggestions[{position}]", seen)
    for position, reason in enumerate(card.get("overrideReasons", [])):
        if not reason.get("display"):
            raise OutputGuardError(f"{where}.overrideReasons[{position}] needs a display")


def _check_suggestion(suggestion: dict[str, Any], where: str, seen: set[str]) -> None:
    _check_uuid(suggestion.get("uuid"), where, seen)
    if not suggestion.get("label"):
        raise OutputGuardError(f"{where}.label is required")
    for position, action in enumerate(suggestion.get("actions", [])):
        if not action.get("description"):
            raise OutputGuardError(f"{where}.actions[{position}].description is required")
        if action["type"] in ("create", "update") and not action.get("resource", {}).get("resourceType"):
            raise OutputGuardError(f"{where}.actions[{position}] needs a resource")
        if action["type"] == "delete" and not action.get("resourceId"):
            raise OutputGuardError(f"{where}.actions[{position}] needs a resourceId")
