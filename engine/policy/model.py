"""The policy as frozen data: what the loader produces and everything else reads."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = ["Leaf", "All", "AnyOf", "Not", "Condition", "Rule", "Recommendation", "Policy", "OPS", "facts_of", "leaves",
           "to_nnf"]

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in")
NEGATED = {"eq": "ne", "ne": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt",
           "in": "not_in", "not_in": "in"}
SYMBOL = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥",
          "in": "in", "not_in": "not in"}


@dataclass(frozen=True)
class Leaf:
    """`fact op value`; value is a literal, a parameter's value, or another fact."""

    fact: str
    op: str
    value: Any = None
    param: str | None = None
    other_fact: str | None = None
    path: str = ""
    line: int | None = None

    def negated(self) -> Leaf:
        return Leaf(self.fact, NEGATED[self.op], self.value, self.param, self.other_fact, self.path, self.line)

    def expected(self) -> Any:
        """What the fact is compared with, as shown in a decision."""
        if self.other_fact:
            return {"fact": self.other_fact}
        return list(self.value) if isinstance(self.value, tuple) else self.value


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]
    path: str = ""


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    path: str = ""


@dataclass(frozen=True)
class Not:
    item: Condition
    path: str = ""


Condition = Leaf | All | AnyOf | Not


def to_nnf(cond: Condition, negate: bool = False) -> Condition:
    """Push every `not` down to the leaves (De Morgan), flipping their operators.

    durable_rules has no usable `$not`, so this is how negation is compiled, and
    the reference interpreter uses the same form so the two agree by construction
    on what "not" means for an unknown fact: a comparison with an unknown fact
    is never true, negated or not.
    """
    if isinstance(cond, Leaf):
        return cond.negated() if negate else cond
    if isinstance(cond, Not):
        return to_nnf(cond.item, not negate)
    items = tuple(to_nnf(c, negate) for c in cond.items)
    conj = isinstance(cond, All) != negate
    return All(items, cond.path) if conj else AnyOf(items, cond.path)


def facts_of(cond: Condition) -> set[str]:
    """Every fact path a condition reads (both sides of a comparison between facts)."""
    out = set()
    for leaf in leaves(cond):
        out.add(leaf.fact)
        if leaf.other_fact:
            out.add(leaf.other_fact)
    return out


def leaves(cond: Condition) -> list[Leaf]:
    """Every leaf of a condition, in order."""
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, Not):
        return leaves(cond.item)
    return [leaf for c in cond.items for leaf in leaves(c)]


@dataclass(frozen=True)
class Recommendation:
    id: str
    title: str
    indicator: str
    category: str
    text: str
    conflicts_with: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    when: Condition
    then: tuple[str, ...]
    priority: int
    rationale: str
    source: str
    suppresses: tuple[str, ...] = ()
    indicator: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class MustDecide:
    name: str
    when: Condition
    line: int | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    version: str
    effective_from: _dt.date
    title: str
    owner: str
    changelog: tuple[dict[str, Any], ...]
    parameters: dict[str, Any]
    recommendations: dict[str, Recommendation]
    rules: tuple[Rule, ...]
    file: str
    sha256: str
    source_text: str
    must_decide: tuple[MustDecide, ...] = ()
    fact_paths: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        """`<policy>@<version>`: the ruleset name."""
        return f"{self.id}@{self.version}"

    @cached_property
    def version_tuple(self) -> tuple[int, int, int]:
        major, minor, patch = (int(x) for x in self.version.split("."))
        return major, minor, patch

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)
