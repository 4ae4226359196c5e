"""Deterministic generators of valid session facts and random policies, for differential tests."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.facts.prepare import FactSpec, fact_catalogue

SESSION_TYPES = ["couples", "couples", "couples", "individual", "group", "family", "education"]
_NUMBERS: dict[str, list[Any]] = {
    "attendance.partners_expected": [1, 2],
    "attendance.partners_present": [0, 1, 2],
    "history.consecutive_joint_sessions_missed": [0, 1, 2, 3, 4, 10, 1000],
    "history.program_days_this_week": [0, 1, 2, 3, 4, 7],
    "history.program_hours_this_week": [0, 0.00001, 2.5, 8.99, 9, 9.5, 12, 168],
    "plan.discharge_in_days": [None, 0, 1, 13, 14, 15, 30, 3650],
}


@dataclass(frozen=True)
class Mix:
    """How `random_facts` draws: each optional fact is sent when a draw falls in `sent` (a closed range of [0, 1))."""

    prefix: str
    session_types: Sequence[str]
    sent: tuple[float, float]
    true: float  # the chance a boolean fact is true
    numbers: Mapping[str, Sequence[Any]]
    consistent: bool = True  # facts that pass the cross-field checks (never more partners present than expected...)


# Uniform over a wide value space: the differential tests and the benchmarks' generated facts.
WIDE = Mix("gen", SESSION_TYPES, (0.5, 1.0), 0.4, _NUMBERS)
# The soak's traffic (scripts/soak.py): fewer facts, a small value space, so the memo sees realistic repetition.
SOAK = Mix("soak", ["couples"] * 4 + ["individual"], (0.0, 0.3), 0.3, {
    "attendance.partners_expected": [1, 2], "attendance.partners_present": [0, 1, 2],
    "history.consecutive_joint_sessions_missed": [0, 1, 2, 3, 5], "history.program_days_this_week": [0, 2, 3, 5],
    "history.program_hours_this_week": [0, 4.5, 9, 12], "plan.discharge_in_days": [None, 3, 14, 30]})


def _value(rng: random.Random, spec: FactSpec, mix: Mix) -> Any:
    if spec.kind == "boolean":
        return rng.random() < mix.true
    if spec.kind == "enum":
        return rng.choice(spec.enum)
    return rng.choice(mix.numbers[spec.path])


def random_facts(rng: random.Random, i: int = 0, mix: Mix = WIDE) -> dict[str, Any]:
    """A valid facts document drawn as `mix` says (by default each optional fact sent with probability ~0.5)."""
    facts: dict[str, Any] = {"session": {"id": f"{mix.prefix}-{i}", "type": rng.choice(mix.session_types)}}
    low, high = mix.sent
    for path, spec in fact_catalogue().items():
        section, name = path.split(".", 1)
        if section == "session" or not low <= rng.random() <= high:
            continue
        facts.setdefault(section, {})[name] = _value(rng, spec, mix)
    return consistent(facts) if mix.consistent else facts


def consistent(facts: dict[str, Any]) -> dict[str, Any]:
    """The same facts made to pass the facts schema's cross-field checks (engine/facts/consistency.py), in place."""
    att = facts.get("attendance", {})
    if att.get("partners_present", 0) > att.get("partners_expected", 2):
        att["partners_present"] = att.get("partners_expected", 2)
    hist = facts.get("history", {})
    if "program_days_this_week" in hist and hist.get("program_hours_this_week", 0) > 24 * hist["program_days_this_week"]:
        hist["program_hours_this_week"] = 24 * hist["program_days_this_week"]
    return facts


_LEAF_FACTS = [p for p in fact_catalogue() if p not in ("session.id", "session.scheduled_start")]
_NUMERIC = [p for p in _LEAF_FACTS if fact_catalogue()[p].numeric]


def random_leaf(rng: random.Random) -> dict[str, Any]:
    path = rng.choice(_LEAF_FACTS)
    spec = fact_catalogue()[path]
    if spec.numeric and rng.random() < 0.15:
        return {"fact": path, "op": rng.choice(["eq", "ne", "lt", "lte", "gt", "gte"]),
                "other_fact": rng.choice(_NUMERIC)}
    ops = ["eq", "ne", "in", "not_in"] + (["lt", "lte", "gt", "gte"] if spec.numeric else [])
    op = rng.choice(ops)
    domain = list(spec.enum) if spec.kind == "enum" else [True, False] if spec.kind == "boolean" else \
        [v for v in _NUMBERS[path] if v is not None]
    if op in ("in", "not_in"):
        return {"fact": path, "op": op, "value": rng.sample(domain, rng.randint(1, min(3, len(domain))))}
    return {"fact": path, "op": op, "value": rng.choice(domain)}


def random_condition(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    r = rng.random()
    if depth >= 3 or r < 0.45:
        return random_leaf(rng)
    if r < 0.6:
        return {"not": random_condition(rng, depth + 1)}
    key = "all" if r < 0.82 else "any"
    return {key: [random_condition(rng, depth + 1) for _ in range(rng.randint(1, 4))]}


def random_rules(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [{"id": f"G-{i:03d}", "title": f"generated {i}", "priority": rng.randint(1, 50),
             "when": random_condition(rng), "then": rng.choice(["rec_a", "rec_b"]),
             "rationale": "generated", "source": "generated"} for i in range(n)]


def loadable_rules(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """`n` random rules that the loader accepts (engine limits respected)."""
    from engine.core.errors import PolicyLoadError
    from engine.policy.loader import load_policy_text

    out: list[dict[str, Any]] = []
    while len(out) < n:
        rule = random_rules(rng, 1)[0]
        rule["id"] = f"G-{len(out):03d}"
        try:
            load_policy_text(_one_rule_yaml(rule), "gen.yaml")
        except PolicyLoadError:
            continue
        out.append(rule)
    return out


def _one_rule_yaml(rule: dict[str, Any]) -> str:
    import json

    import yaml

    from support.policies import minimal_policy

    data = minimal_policy(rules=[rule])
    return yaml.safe_dump(json.loads(json.dumps(data)), sort_keys=False)
