"""Paths (engine.policy.paths) -> durable_rules rule expressions (pure: no engine import).

Measured here (see docs/engine-guards.md), durable_rules refuses an expression
with more than 15 `$and`/`$or` nodes (error 113), so each path is one flat
`$and` of comparisons, compiled as its own durable rule `<rule id>#<n>`; the
compiler puts at most MAX_PATHS_PER_SHARD paths in one ruleset, so no fact can
ever satisfy 64 siblings (error 303).
"""

from __future__ import annotations

from typing import Any

from engine.policy.model import Leaf
from engine.policy.paths import Path

__all__ = ["MAX_PATHS_PER_SHARD", "NOT_STATE", "path_expression"]

MAX_PATHS_PER_SHARD = 60  # + the catch-all: 61 < 64 (error 303)
NOT_STATE = {"$nex": {"$s": 1}}
_CMP = {"lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte", "ne": "$neq"}


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
