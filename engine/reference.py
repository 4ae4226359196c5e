"""A small reference interpreter of the condition language.

durable_rules decides; this explains (which conditions matched, why a rule did
not fire) and is the oracle of the differential tests. It reads conditions in
negation normal form, exactly as the compiler emits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .facts import get_path
from .model import All, AnyOf, Condition, Leaf, Not, to_nnf

__all__ = ["Outcome", "check", "holds", "leaf_holds"]


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


def _check(cond: Condition, facts: dict[str, Any]) -> Outcome:
    if isinstance(cond, Leaf):
        ok = leaf_holds(cond, facts)
        return Outcome(True, (cond,)) if ok else Outcome(False, failed=cond)
    if isinstance(cond, All):
        matched: list[Leaf] = []
        reasons: list[Leaf] = []
        for item in cond.items:
            out = _check(item, facts)
            if not out.ok:
                return Outcome(False, failed=out.failed)
            matched.extend(out.matched)
            reasons.extend(out.reasons)
        return Outcome(True, tuple(matched), reasons=tuple(reasons))
    if isinstance(cond, AnyOf):
        outs = [_check(item, facts) for item in cond.items]
        hits = tuple(leaf for o in outs if o.ok for leaf in o.matched)
        if hits:
            return Outcome(True, hits, reasons=hits)
        return Outcome(False, failed=outs[0].failed if outs else None)
    raise TypeError(f"condition not in normal form: {cond!r}")


def check(cond: Condition, facts: dict[str, Any]) -> Outcome:
    """Evaluate a condition (any form) on prepared facts."""
    return _check(cond if not _has_not(cond) else to_nnf(cond), facts)


def _has_not(cond: Condition) -> bool:
    if isinstance(cond, Leaf):
        return False
    if isinstance(cond, Not):
        return True
    return any(_has_not(c) for c in cond.items)


def holds(cond: Condition, facts: dict[str, Any]) -> bool:
    return check(cond, facts).ok
