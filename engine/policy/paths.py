"""Condition trees -> their alternative paths (disjunctive normal form), and the limits on them.

Measured here (see docs/engine-guards.md), durable_rules fails an assert (error
303) when a fact satisfies 64 or more sibling paths at once and freezes when one
node has more than ~511 children (C5). So each rule is expanded into its
alternative paths: each path is one flat conjunction of comparisons. The loader
refuses a rule with more than MAX_PATHS_PER_RULE paths (engine.policy.semantics);
the compiler turns each path into one durable rule (engine.compile.translate).
"""

from __future__ import annotations

from engine.core.errors import PolicyError
from engine.policy.model import All, AnyOf, Condition, Leaf, to_nnf

__all__ = ["MAX_PATHS_PER_RULE", "Path", "TooManyPaths", "path_count", "paths"]

MAX_PATHS_PER_RULE = 48

Path = tuple[Leaf, ...]

class TooManyPaths(PolicyError):
    """A condition expands to more alternative paths than the engine can hold; `count` is where expansion stopped."""

    code, title = "too_many_paths", "Too many alternative paths"

    def __init__(self, count: int) -> None:
        super().__init__(f"the condition expands to more than {count - 1} alternative paths")
        self.count = count


def _paths(cond: Condition, cap: int) -> list[Path]:
    if isinstance(cond, Leaf):
        if cond.op == "in":
            # A value that is not a list is the semantic checks' error to report; expansion must not crash on it.
            values = cond.value if isinstance(cond.value, list | tuple) else [cond.value]
            return [(Leaf(cond.fact, "eq", v, cond.param, None, cond.path, cond.line),) for v in values]
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
