"""A small reference interpreter of the condition language.

durable_rules decides; this explains (which conditions matched, why a rule did
not fire) and is the oracle of the differential tests. It reads conditions in
negation normal form, exactly as the compiler emits them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.facts.prepare import get_path
from engine.policy.model import All, Condition, Leaf, to_nnf

__all__ = ["OPS", "Checker", "Outcome", "compile_condition", "evaluate_condition", "holds", "leaf_holds"]


@dataclass(frozen=True)
class Outcome:
    """Whether a condition holds, the leaves that made it hold, the first leaf that failed."""

    ok: bool
    matched: tuple[Leaf, ...] = ()
    failed: Leaf | None = None
    reasons: tuple[Leaf, ...] = ()

    def why(self) -> tuple[Leaf, ...]:
        """The leaves that chose between alternatives (under an `any`), else every matched leaf."""
        return self.reasons or self.matched


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "lt":
        return bool(actual < expected)
    if op == "lte":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    if op == "gte":
        return bool(actual >= expected)
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    raise ValueError(f"unknown operator {op!r}")


def leaf_holds(leaf: Leaf, facts: dict[str, Any]) -> bool:
    """A comparison with an unknown (absent) fact never holds."""
    present, actual = get_path(facts, leaf.fact)
    if not present:
        return False
    expected = leaf.value
    if leaf.other_fact is not None:
        present, expected = get_path(facts, leaf.other_fact)
        if not present:
            return False
    return _compare(leaf.op, actual, expected)


def evaluate_condition(cond: Condition, facts: dict[str, Any]) -> Outcome:
    """Evaluate a condition (any form) on prepared facts: whether it holds, and which leaves decided it."""
    return compile_condition(cond)(facts)


def holds(cond: Condition, facts: dict[str, Any]) -> bool:
    return evaluate_condition(cond, facts).ok


Checker = Callable[[dict[str, Any]], Outcome]
# Each leaf operator as a test of (actual, expected); engine/decide/explain.py uses the same table.
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}
_ABSENT = object()


def compile_condition(cond: Condition) -> Checker:
    """A condition prepared once (negations pushed down to the leaves), to evaluate on many facts."""
    return _compile(to_nnf(cond))


def _compile(cond: Condition) -> Checker:
    if isinstance(cond, Leaf):
        return _compile_leaf(cond)
    items = [_compile(c) for c in cond.items]  # type: ignore[union-attr]
    if isinstance(cond, All):
        def all_(facts: dict[str, Any]) -> Outcome:
            matched: tuple[Leaf, ...] = ()
            reasons: tuple[Leaf, ...] = ()
            for item in items:
                out = item(facts)
                if not out.ok:
                    return Outcome(False, failed=out.failed)
                matched += out.matched
                reasons += out.reasons
            return Outcome(True, matched, reasons=reasons)
        return all_

    def any_(facts: dict[str, Any]) -> Outcome:
        outs = [item(facts) for item in items]
        hits = tuple(leaf for o in outs if o.ok for leaf in o.matched)
        if hits:
            return Outcome(True, hits, reasons=hits)
        return Outcome(False, failed=outs[0].failed if outs else None)
    return any_


def _compile_leaf(leaf: Leaf) -> Checker:
    section, name = leaf.fact.split(".", 1)
    op = OPS[leaf.op]
    yes, no = Outcome(True, (leaf,)), Outcome(False, failed=leaf)
    if leaf.other_fact is None:
        expected = leaf.value

        def leaf_(facts: dict[str, Any]) -> Outcome:
            actual = facts.get(section, {}).get(name, _ABSENT)
            return yes if actual is not _ABSENT and op(actual, expected) else no
        return leaf_
    other_section, other_name = leaf.other_fact.split(".", 1)

    def pair(facts: dict[str, Any]) -> Outcome:
        actual = facts.get(section, {}).get(name, _ABSENT)
        other = facts.get(other_section, {}).get(other_name, _ABSENT)
        return yes if actual is not _ABSENT and other is not _ABSENT and op(actual, other) else no
    return pair
