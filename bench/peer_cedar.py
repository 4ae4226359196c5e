"""The default policy as a Cedar user would write it: one `permit` per rule, `when` over a context record.

Each rule becomes `@id("<rule>") permit(principal, action, resource) when { ... };`, its condition
written as its tree (`&&`, `||`), an optional fact guarded with `has` (Cedar's way of saying
"unknown: no rule about it applies"). One `is_authorized` call per decision on a policy set
parsed once; the determining policies (`reasons`, by their `@id`) are the fired rules.
Cedar has no floating-point numbers: a `number` fact goes in as a `decimal` (4 fractional digits,
rounded down, which decides `<` and `>=` against a threshold of at most 4 digits exactly).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from engine.core.schemas import load_schema
from engine.facts.prepare import fact_catalogue
from engine.policy.model import All, Condition, Leaf, Policy, to_nnf

__all__ = ["cedar_context", "cedar_peer", "cedar_policies"]

_LONG_OPS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_DECIMAL_OPS = {"lt": "lessThan", "lte": "lessThanOrEqual", "gt": "greaterThan", "gte": "greaterThanOrEqual"}
_EXACT_ON_DECIMALS = ("lt", "gte")  # what rounding down to 4 digits keeps exact


def _always_present() -> set[str]:
    """Facts every prepared document holds (a default, or required by the schema): no `has` needed."""
    schema = load_schema("session-facts")["properties"]
    out = {p for p, s in fact_catalogue().items() if s.has_default or s.default_from}
    out |= {f"session.{name}" for name in schema["session"].get("required", ())}
    return out


def _ref(path: str) -> str:
    return "context." + path


def _has(path: str, present: set[str]) -> list[str]:
    section, name = path.split(".", 1)
    return [] if path in present else [f"context.{section} has {name}"]


def _decimal(v: Any) -> str:
    return f'decimal("{math.floor(v * 10_000) / 10_000:.4f}")'


def _leaf(leaf: Leaf, present: set[str]) -> str:
    facts = [leaf.fact] + ([leaf.other_fact] if leaf.other_fact else [])
    guards = [g for f in facts for g in _has(f, present)]
    numeric_kind = fact_catalogue()[leaf.fact].kind
    rhs = _ref(leaf.other_fact) if leaf.other_fact else None
    if leaf.op in ("in", "not_in"):
        test = f"{json.dumps(list(leaf.value))}.contains({_ref(leaf.fact)})"
        test = test if leaf.op == "in" else f"!{test}"
    elif numeric_kind == "number" and leaf.op in _DECIMAL_OPS:
        if leaf.op not in _EXACT_ON_DECIMALS or leaf.other_fact:
            raise ValueError(f"{leaf.fact} {leaf.op}: no exact Cedar decimal model for this comparison")
        test = f"{_ref(leaf.fact)}.{_DECIMAL_OPS[leaf.op]}({_decimal(leaf.value)})"
    else:
        test = f"{_ref(leaf.fact)} {_LONG_OPS[leaf.op]} {rhs or json.dumps(leaf.value)}"
    return "(" + " && ".join([*guards, test]) + ")" if guards else test


def _condition(cond: Condition, present: set[str]) -> str:
    if isinstance(cond, Leaf):
        return _leaf(cond, present)
    joiner = " && " if isinstance(cond, All) else " || "
    return "(" + joiner.join(_condition(c, present) for c in cond.items) + ")"  # type: ignore[union-attr]


def cedar_policies(policy: Policy) -> str:
    """The Cedar policy set: one annotated `permit` per rule, in the policy's order."""
    present = _always_present()
    return "\n".join(f'@id("{rule.id}")\npermit(principal, action, resource)\nwhen {{ '
                     f"{_condition(to_nnf(rule.when), present)} }};\n" for rule in policy.rules)


def cedar_context(facts: dict[str, Any]) -> dict[str, Any]:
    """The request context: the prepared facts, each `number` fact as a Cedar decimal."""
    out = {section: dict(values) for section, values in facts.items()}
    for path, spec in fact_catalogue().items():
        section, name = path.split(".", 1)
        v = out.get(section, {}).get(name)
        if spec.kind == "number" and v is not None:
            out[section][name] = {"__extn": {"fn": "decimal", "arg": f"{math.floor(v * 10_000) / 10_000:.4f}"}}
    return out


def cedar_peer(policy: Policy) -> Callable[[dict[str, Any]], set[str]]:
    """facts -> fired rule ids, one `is_authorized` per decision on a policy set parsed once."""
    import cedarpy

    policies = cedarpy.PolicySet.from_str(cedar_policies(policy))
    entities = cedarpy.Entities.from_json_str("[]")
    numbers = tuple(tuple(p.split(".", 1)) for p, s in fact_catalogue().items() if s.kind == "number")

    def decide(facts: dict[str, Any]) -> set[str]:
        context = facts
        if any(facts.get(s, {}).get(n) is not None for s, n in numbers):
            context = cedar_context(facts)
        request = {"principal": 'User::"clinic"', "action": 'Action::"decide"', "resource": 'Session::"s"',
                   "context": context}
        result = cedarpy.is_authorized(request, policies, entities)
        if result.diagnostics.errors:
            raise RuntimeError(f"cedar: {result.diagnostics.errors}")
        return set(result.diagnostics.id_annotations_by_reason.values())

    return decide
