"""The request-body reader: what an EHR sees when its JSON is empty, malformed or too deep."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from cds_service.api.body import parse_json_object
from cds_service.errors import BadRequest, PayloadTooDeep

MAX_DEPTH = 8


def depth(value: Any) -> int:
    """Nesting depth as the parser sees it: an object or array is one level."""
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    return 0


TRICKY_TEXT = ["[[[[", "]]]]}}}", '\\"[', '{"a": [', "\\", '"', '\\\\"]]', "«[»", "\n{\t[", "}\\"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice([*TRICKY_TEXT, "x", " "]) for _ in range(rng.randint(0, 4)))


def random_value(rng: random.Random, budget: int) -> Any:
    kind = rng.choice(["text", "number", "object", "array"] if budget else ["text", "number"])
    if kind == "text":
        return random_text(rng)
    if kind == "number":
        return rng.choice([0, -1.5, 3e7, True, None])
    if kind == "object":
        return {random_text(rng): random_value(rng, budget - 1) for _ in range(rng.randint(0, 3))}
    return [random_value(rng, budget - 1) for _ in range(rng.randint(0, 3))]


@pytest.mark.parametrize("seed", range(300))
def test_depth_limit_matches_the_parsed_document(seed: int) -> None:
    """Brackets, quotes and backslashes inside strings never count; real nesting always does."""
    rng = random.Random(seed)
    document = {"hook": random_value(rng, rng.randint(1, 12))}
    body = orjson.dumps(document)
    if depth(document) > MAX_DEPTH:
        with pytest.raises(PayloadTooDeep):
            parse_json_object(body, MAX_DEPTH)
    else:
        assert parse_json_object(body, MAX_DEPTH) == document


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"", "request body is empty", id="empty"),
        pytest.param(b"  \n", "request body is empty", id="whitespace only"),
        pytest.param(b'{"hook": ', "not valid JSON", id="truncated"),
        pytest.param(b'{"hook": "x\\"}', "not valid JSON", id="unclosed string after an escaped quote"),
        pytest.param(b"[1, 2]", "must be a JSON object", id="array"),
        pytest.param(b'{"a":' * 9 + b"1" + b"}" * 9, "nested deeper than 8", id="nine objects deep"),
        pytest.param(b'{"a":[' * 4 + b'{"b":1}' + b"]}" * 4, "nested deeper than 8", id="nine levels mixed"),
        pytest.param(b'{"a": [}', "not valid JSON", id="a bracket left open is not depth"),
        pytest.param(b"}" * 20 + b"{", "not valid JSON", id="closing brackets first"),
    ],
)
def test_bad_bodies_get_a_specific_message(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_json_object(body, MAX_DEPTH)


def test_exactly_the_limit_is_accepted() -> None:
    body = b'{"a":' * 7 + b"[1]" + b"}" * 7
    assert depth(parse_json_object(body, MAX_DEPTH)) == MAX_DEPTH
