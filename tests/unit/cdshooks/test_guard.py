"""The output guard (checklist §1, §4.2): what leaves is what CDS Hooks 2.0 allows."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cds_service.cdshooks.guard import OutputGuardError, guarded_response, prune_empty
from cds_service.cdshooks.models import Action, Card, CdsResponse, Coding, Source, Suggestion


def a_card(**changes: Any) -> Card:
    fields: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": "Soft-tissue calcification L calf: check calcium, phosphate, creatinine",
        "indicator": "info",
        "source": Source(label="Soft-tissue calcification on lower-limb radiographs"),
        "suggestions": [
            Suggestion(
                label="Calcium",
                uuid=str(uuid.uuid4()),
                actions=[
                    Action(
                        type="create",
                        description="Draft order: Calcium",
                        resource={"resourceType": "ServiceRequest", "status": "draft"},
                    )
                ],
            )
        ],
        "selectionBehavior": "any",
        "overrideReasons": [
            Coding(system="http://x", code="need-more-info", display="Need more information")
        ],
    }
    fields.update(changes)
    return Card.model_construct(**fields)


def test_empty_values_are_dropped_but_cards_stays() -> None:
    assert prune_empty({"a": None, "b": "", "c": [], "d": {}, "e": [{"f": None}], "g": 0}) == {"g": 0}
    assert guarded_response(CdsResponse(cards=[])) == {"cards": []}


def test_a_valid_card_passes_without_nulls_or_empties() -> None:
    body = guarded_response(CdsResponse(cards=[a_card(detail="", links=[])]))
    card = body["cards"][0]
    assert "detail" not in card and "links" not in card
    assert card["selectionBehavior"] == "any"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"uuid": None}, "uuid", id="§4.2 card uuid needed for feedback"),
        pytest.param({"uuid": "not-a-uuid"}, "uuid", id="§4.2 card uuid is a UUID"),
        pytest.param({"summary": "x" * 140}, "summary", id="§4.2 summary < 140"),
        pytest.param({"summary": ""}, "summary", id="§4.2 summary required"),
        pytest.param({"indicator": "hard-stop"}, "indicator", id="§4.2 indicator enum"),
        pytest.param(
            {"selectionBehavior": None}, "selectionBehavior", id="§4.2 selectionBehavior iff suggestions"
        ),
        pytest.param(
            {"suggestions": None}, "selectionBehavior", id="§4.2 no selectionBehavior without suggestions"
        ),
        pytest.param({"selectionBehavior": "all"}, "selectionBehavior", id="§4.2 selectionBehavior enum"),
        pytest.param(
            {"overrideReasons": [Coding(system="http://x", code="y")]},
            "display",
            id="§4.2 override reasons need a display",
        ),
        pytest.param({"source": Source(label="")}, "source.label", id="§4.2 source.label required"),
    ],
)
def test_guard_refuses_what_a_client_would_reject(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(OutputGuardError, match=message):
        guarded_response(CdsResponse.model_construct(cards=[a_card(**changes)]))


def test_suggestion_uuids_and_actions_are_checked() -> None:
    no_uuid = Suggestion.model_construct(label="PTH", uuid=None, actions=None)
    with pytest.raises(OutputGuardError, match=r"suggestions\[0\]\.uuid"):
        guarded_response(CdsResponse.model_construct(cards=[a_card(suggestions=[no_uuid])]))
    no_resource = Suggestion(
        label="PTH", uuid=str(uuid.uuid4()), actions=[Action(type="create", description="Draft order")]
    )
    with pytest.raises(OutputGuardError, match="needs a resource"):
        guarded_response(CdsResponse.model_construct(cards=[a_card(suggestions=[no_resource])]))


def test_uuids_are_unique_across_cards_and_suggestions() -> None:
    shared = str(uuid.uuid4())
    with pytest.raises(OutputGuardError, match="not unique"):
        guarded_response(CdsResponse.model_construct(cards=[a_card(uuid=shared), a_card(uuid=shared)]))


def test_at_most_one_allows_one_recommended() -> None:
    two = [Suggestion(label=f"S{i}", uuid=str(uuid.uuid4()), isRecommended=True) for i in range(2)]
    with pytest.raises(OutputGuardError, match="one recommended"):
        guarded_response(
            CdsResponse.model_construct(cards=[a_card(suggestions=two, selectionBehavior="at-most-one")])
        )
