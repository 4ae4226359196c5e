"""Three-valued evaluation of a policy on partial fact assignments, and a pruned search of the fact space.

A fact not yet assigned is unknown (None); Kleene logic then says whether a
condition already holds (True), can no longer hold (False), or depends on facts
still to choose. The search assigns facts one at a time, neutral values first,
and abandons a branch as soon as the goal is False: an exhaustive enumeration of
the fact space that skips what cannot matter. A comparison with an absent fact
never holds, negated or not, exactly as in the reference interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.analysis.space import ABSENT, FactSpace
from engine.policy.model import All, AnyOf, Condition, Leaf, Policy, facts_of, leaves, to_nnf

__all__ = ["Tri", "t_and", "t_or", "t_not", "cond3", "PolicyLogic", "Search", "search", "collapse", "order_facts",
           "facts_of"]

Tri = bool | None
Assign = Mapping[str, Any]
Goal = Callable[[Assign], Tri]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b), "ne": lambda a, b: bool(a != b),
    "lt": lambda a, b: bool(a < b), "lte": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b), "gte": lambda a, b: bool(a >= b),
    "in": lambda a, b: a in b, "not_in": lambda a, b: a not in b,
}


def t_and(values: Iterable[Tri]) -> Tri:
    out: Tri = True
    for v in values:
        if v is False:
            return False
        if v is None:
            out = None
    return out


def t_or(values: Iterable[Tri]) -> Tri:
    out: Tri = False
    for v in values:
        if v is True:
            return True
        if v is None:
            out = None
    return out


def t_not(value: Tri) -> Tri:
    return None if value is None else not value


def _leaf3(leaf: Leaf, assign: Assign) -> Tri:
    if leaf.fact not in assign:
        return None
    actual = assign[leaf.fact]
    expected = leaf.value
    if leaf.other_fact is not None:
        if leaf.other_fact not in assign:
            return None
        expected = assign[leaf.other_fact]
        if expected is ABSENT:
            return False
    if actual is ABSENT:
        return False
    return _OPS[leaf.op](actual, expected)


def cond3(cond: Condition, assign: Assign) -> Tri:
    """A condition in negation normal form on a partial assignment."""
    if isinstance(cond, Leaf):
        return _leaf3(cond, assign)
    if isinstance(cond, All):
        return t_and(cond3(c, assign) for c in cond.items)
    if isinstance(cond, AnyOf):
        return t_or(cond3(c, assign) for c in cond.items)
    raise TypeError(f"condition not in normal form: {cond!r}")


class PolicyLogic:
    """What a policy decides, in three values: rules that fire, recommendations given or suppressed."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.nnf = {r.id: to_nnf(r.when) for r in policy.rules}
        self.givers = {rid: [r.id for r in policy.rules if rid in r.then] for rid in policy.recommendations}
        self.suppressors = {rid: [r.id for r in policy.rules if rid in r.suppresses] for rid in policy.recommendations}

    def fires(self, rule_id: str, assign: Assign) -> Tri:
        return cond3(self.nnf[rule_id], assign)

    def fired(self, assign: Assign, rule_ids: Iterable[str] | None = None) -> dict[str, Tri]:
        """Whether each rule fires (all rules by default)."""
        return {rid: cond3(self.nnf[rid], assign) for rid in (self.nnf if rule_ids is None else rule_ids)}

    def given(self, rec: str, fired: Mapping[str, Tri]) -> Tri:
        """Some rule gives the recommendation (suppressed or not)."""
        return t_or(fired[r] for r in self.givers.get(rec, ()))

    def suppressed(self, rec: str, fired: Mapping[str, Tri]) -> Tri:
        """Some fired rule suppresses the recommendation."""
        return t_or(fired[r] for r in self.suppressors.get(rec, ()))

    def final(self, rec: str, fired: Mapping[str, Tri]) -> Tri:
        """The recommendation is in the decision: given and not suppressed."""
        return t_and((self.given(rec, fired), t_not(self.suppressed(rec, fired))))

    def rec_rules(self, rec: str) -> list[str]:
        """The rules that give or suppress a recommendation."""
        return self.givers.get(rec, []) + self.suppressors.get(rec, [])

    def rule_facts(self, rule_ids: Iterable[str]) -> set[str]:
        return {f for rid in rule_ids for f in facts_of(self.nnf[rid])}

    def rec_facts(self, rec: str) -> set[str]:
        """The facts that decide whether a recommendation is given or suppressed."""
        return self.rule_facts(self.rec_rules(rec))


@dataclass(frozen=True)
class Search:
    """The outcome of a search: a (partial) assignment where the goal holds, if any."""

    found: dict[str, Any] | None
    nodes: int
    complete: bool  # False when the budget ran out before the answer was certain


class _Budget(Exception):
    pass


def search(space: FactSpace, order: Sequence[str], goal: Goal, budget: int = 200_000) -> Search:
    """Depth-first over the facts in `order`, pruning every branch where `goal` is already False."""
    assign: dict[str, Any] = {}
    nodes = 0

    def visit(i: int) -> dict[str, Any] | None:
        nonlocal nodes
        nodes += 1
        if nodes > budget:
            raise _Budget
        verdict = goal(assign)
        if verdict is not None or i == len(order):
            return dict(assign) if verdict else None
        for value in space.domains[order[i]]:
            assign[order[i]] = value
            if (hit := visit(i + 1)) is not None:
                return hit
        del assign[order[i]]
        return None

    try:
        found = visit(0)
    except _Budget:
        return Search(None, nodes - 1, False)
    return Search(found, nodes, True)


def collapse(space: FactSpace, policies: Iterable[Policy]) -> FactSpace:
    """The same space with one value per class of values that every condition treats alike.

    Exact for what the policies decide (a decision reads the facts only through its
    conditions), though not for rationale text, which may quote the values.
    """
    by_fact: dict[str, list[Leaf]] = {}
    linked: set[str] = set()
    conditions = [r.when for p in policies for r in p.rules] + [m.when for p in policies for m in p.must_decide]
    for leaf in (x for c in conditions for x in leaves(to_nnf(c))):  # as evaluated: `not` pushed down
        if leaf.other_fact:
            linked |= {leaf.fact, leaf.other_fact}
        else:
            by_fact.setdefault(leaf.fact, []).append(leaf)
    out = {}
    for path, values in space.domains.items():
        if path in linked:
            out[path] = values
            continue
        classes: dict[tuple[Tri, ...], Any] = {}
        for v in values:
            classes.setdefault(tuple(_leaf3(x, {path: v}) for x in by_fact.get(path, ())), v)
        out[path] = tuple(classes.values())
    return FactSpace(out)


def order_facts(paths: Iterable[str], first: Iterable[str], weight: Mapping[str, int], space: FactSpace) -> list[str]:
    """`first` facts, then the others by how many conditions read them (most first), in schema order on ties."""
    wanted = set(paths) | set(first)
    head = [p for p in space.paths if p in set(first)]
    rest = sorted((p for p in space.paths if p in wanted and p not in head), key=lambda p: -weight.get(p, 0))
    return head + rest
