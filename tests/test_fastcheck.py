"""The fast facts check says yes exactly when jsonschema finds nothing wrong."""

from __future__ import annotations

import copy
import random

import pytest
from jsonschema import Draft202012Validator

from engine.core.errors import FactsError
from engine.facts.fast_validator import UnsupportedSchema, _node, facts_ok
from engine.facts.prepare import fact_catalogue, validate_facts
from support.factgen import random_facts

_BAD_VALUES = [None, "x", "", "x" * 200, -1, 3, 2**70, 1.5, 1e300, float("nan"), float("inf"), True, [], {}, {"a": 1},
               "2026-01-01", "2026-01-01T10:00:00Z", "couples", "none"]


def _mutate(rng: random.Random, facts: dict) -> dict:
    out = copy.deepcopy(facts)
    kind = rng.randrange(5)
    path = rng.choice(list(fact_catalogue()))
    section, name = path.split(".", 1)
    if kind == 0:
        out.setdefault(section, {})[name] = rng.choice(_BAD_VALUES)
    elif kind == 1:
        out.setdefault(section, {})[name + "x"] = 1
    elif kind == 2:
        out[rng.choice(["extra", "sessions", section])] = rng.choice(_BAD_VALUES)
    elif kind == 3:
        out["session"].pop(rng.choice(["id", "type"]), None)
    else:
        out = rng.choice([[], "facts", None, 1, {"session": None}])
    return out


def _jsonschema_ok(facts) -> bool:
    try:
        validate_facts(facts)
    except FactsError:
        return False
    return True


def test_agrees_with_jsonschema_on_valid_and_mutated_facts():
    rng = random.Random(5)
    seen = {True: 0, False: 0}
    for i in range(3000):
        facts = random_facts(rng, i)
        if i % 2:
            facts = _mutate(rng, facts)
        expected = _jsonschema_ok(facts)
        assert facts_ok(facts) is expected, facts
        seen[expected] += 1
    assert seen[True] > 1000 and seen[False] > 1000


def test_refuses_to_build_on_keywords_it_does_not_implement():
    with pytest.raises(UnsupportedSchema, match="multipleOf"):
        _node({"type": "integer", "multipleOf": 2})


@pytest.mark.parametrize(("schema", "value", "ok"), [
    ({"type": "string", "pattern": "^a"}, "ab", True),
    ({"type": "string", "pattern": "^a"}, "ba", False),
    ({"const": 1}, 1.0, True),
    ({"const": 1}, True, False),
    ({"if": {"required": ["a"]}, "then": {"properties": {"b": {"maximum": 1}}}}, {"a": 0, "b": 2}, False),
    ({"if": {"required": ["a"]}, "then": {"properties": {"b": {"maximum": 1}}}}, {"b": 2}, True),
    ({"allOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"a": 1}, False),
])
def test_pattern_const_and_conditionals_agree_with_jsonschema(schema: dict, value: object, ok: bool) -> None:
    assert _node(schema)(value) is ok is Draft202012Validator(schema).is_valid(value)
