"""The fast facts check (jsonschema-rs) says yes exactly when jsonschema finds nothing wrong, and never crashes."""

from __future__ import annotations

import copy
import random

import pytest
from jsonschema import Draft202012Validator

from engine.core.errors import FactsError
from engine.facts.fast_validator import checker_for, facts_ok
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
    check = checker_for(schema)
    assert check is not None and check(value) is ok is Draft202012Validator(schema).is_valid(value)


def _nested(depth: int, leaf: object) -> object:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def _with(section: str, name: str, value: object) -> dict:
    return {"session": {"id": "s-1", "type": "couples"}, section: {name: value}} if section != "session" else \
        {"session": {"id": "s-1", "type": "couples", name: value}}


# Formats as our checker reads RFC 3339 (jsonschema-rs alone differs on the first two), numbers beyond
# 64 bits, NaN-like values, long and odd strings, deep nesting, and values no JSON document holds.
_HOSTILE = [
    (_with("session", "scheduled_start", "2026-01-31T18:00:00.1234567891Z"), False),
    (_with("session", "scheduled_start", "2026-01-31T18:00:60Z"), True),
    (_with("session", "scheduled_start", "2026-12-31t23:59:60z"), True),
    (_with("session", "scheduled_start", "2026-02-30T18:00:00Z"), False),
    (_with("session", "scheduled_start", "2026-W05-6T18:00:00Z"), False),
    (_with("plan", "discharge_in_days", 2**70), False),
    (_with("plan", "discharge_in_days", -2**200), False),
    (_with("plan", "discharge_in_days", 3.0), True),
    (_with("history", "program_hours_this_week", float("nan")), False),
    (_with("history", "program_hours_this_week", float("inf")), False),
    (_with("history", "program_hours_this_week", 1e308), False),
    (_with("history", "program_hours_this_week", 5e-324), True),
    (_with("session", "id", "x" * 1_000_000), False),
    (_with("session", "id", "\U0001F600" * 128), True),
    (_with("session", "id", "a\x7f"), False),
    (_with("session", "id", "a\ud800b"), None),  # jsonschema-rs cannot read it: jsonschema decides
    (_with("attendance", "partners_present", _nested(900, 1)), False),  # as deep as strict JSON lets through
    (_with("session", "type", _nested(900, "couples")), False),
    (_with("attendance", "partners_present", _nested(100_000, 1)), False),  # only a Python caller nests deeper
    (_with("session", "type", _nested(100_000, "couples")), False),
    ({"session": {"id": "s-1", "type": "couples"}, "extra": _nested(100_000, {})}, False),
    (_with("session", "type", {"couples"}), None),
    (_with("session", "id", b"s-1"), None),
    ({"session": {"id": "s-1", "type": "couples"}, 1: {}, "x": 2}, None),
]


@pytest.mark.parametrize(("facts", "fast"), _HOSTILE)
def test_hostile_input_never_crashes_and_agrees(facts: object, fast: bool | None) -> None:
    answer = facts_ok(facts)
    assert answer is bool(fast)
    verdict = _jsonschema_ok(facts)  # jsonschema, which decides when jsonschema-rs cannot read it, never crashes either
    if fast is not None:
        assert answer is verdict
