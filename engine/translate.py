"""Condition trees -> durable_rules rules (pure: no engine import).

Measured here (see docs/engine-guards.md), durable_rules
- refuses an expression with more than 15 `$and`/`$or` nodes (error 113);
- expands every `$or` into separate match paths and fails an assert (error 303)
  when a fact satisfies 64 or more sibling paths at once;
- freezes when one node has more than ~511 children (C5).
So each rule is expanded here into its alternative paths (disjunctive normal
form): each path is one flat `$and` of comparisons, compiled as its own
durable rule `<rule id>#<n>`. The loader refuses a rule with more than
MAX_PATHS_PER_RULE paths, and the compiler puts at most MAX_PATHS_PER_SHARD
paths in one ruleset, so no fact can ever satisfy 64 siblings.
"""

from __future__ import annotations

from typing import Any

from .model import All, AnyOf, Condition, Leaf, to_nnf

__all__ = ["paths", "path_count", "path_expression", "MAX_PATHS_PER_RULE", "MAX_PATHS_PER_SHARD", "NOT_STATE",
           "TooManyPaths"]

MAX_PATHS_PER_RULE = 48
MAX_PATHS_PER_SHARD = 60  # + the catch-all: 61 < 64 (error 303)
NOT_STATE = {"$nex": {"$s": 1}}
_CMP = {"lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte", "ne": "$neq"}

Path = tuple[Leaf, ...]


class TooManyPaths(Exception):
    """A condition expands to more alternative paths than the engine can hold."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


def _paths(cond: Condition, cap: int) -> list[Path]:
    if isinstance(cond, Leaf):
        if cond.op == "in":
            return [(Leaf(cond.fact, "eq", v, cond.param, None, cond.path, cond.line),) for v in cond.value]
        return [(cond,)]
    if isinstance(cond, AnyOf):
        out = [p for c in cond.items for p in _paths(c, cap)]
    elif isinstance(cond, All):
        out = [()]
        for c in cond.items:
            out = [a + b for a in out for b in _paths(c, cap)]
            if len(out) > cap:
                raise TooManyPaths(len(out))
    else:
        raise TypeError(f"condition not in normal form: {cond!r}")
    if len(out) > cap:
        raise TooManyPaths(len(out))
    return out


def paths(cond: Condition, cap: int = MAX_PATHS_PER_RULE) -> list[Path]:
    """The alternative conjunctions of a condition (raises TooManyPaths past `cap`)."""
    return _paths(to_nnf(cond), cap)


def path_count(cond: Condition) -> int:
    """How many paths a condition has (the count at which expansion stopped, if it is over the cap)."""
    try:
        return len(paths(cond))
    except TooManyPaths as e:
        return e.count


def _leaf(leaf: Leaf) -> list[dict[str, Any]]:
    if leaf.other_fact:
        # durable_rules compares with a missing right-hand fact as if it existed: guard both sides.
        rhs = {"$m": leaf.other_fact}
        cmp = {leaf.fact: rhs} if leaf.op == "eq" else {_CMP[leaf.op]: {leaf.fact: rhs}}
        return [{"$ex": {leaf.fact: 1}}, {"$ex": {leaf.other_fact: 1}}, cmp]
    if leaf.op == "not_in":
        return [{"$neq": {leaf.fact: v}} for v in leaf.value]
    if leaf.op == "eq":
        return [{leaf.fact: leaf.value}]  # one key per object: `{a: 1, b: 2}` would check only `a`
    return [{_CMP[leaf.op]: {leaf.fact: leaf.value}}]


def path_expression(path: Path) -> dict[str, Any]:
    """One flat `$and` that never matches the engine's own state fact (C6)."""
    return {"$and": [NOT_STATE] + [term for leaf in path for term in _leaf(leaf)]}
