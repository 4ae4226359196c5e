"""The default policy as a Rego (OPA) user would write it: one `fired contains "<rule>" if {...}` per rule.

A conjunction is the rule's body, one expression a line; a disjunction is Rego's "or": several
definitions of the same rule (top level) or of a helper rule (nested). An unknown fact makes its
expression undefined, so the body fails: "no rule about it applies", as in our engine. Run with
regopy (rego-cpp): the module is compiled once into a bundle with the entry point `attendance/fired`,
and each decision sets the input and queries that entry point.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.policy.model import All, AnyOf, Condition, Leaf, Policy, to_nnf

__all__ = ["PACKAGE", "rego_module", "rego_peer"]

PACKAGE = "attendance"
_OPS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _ref(path: str) -> str:
    return "input." + path


def _leaf(leaf: Leaf) -> str:
    if leaf.op == "in":
        return f"{_ref(leaf.fact)} in {{{', '.join(json.dumps(v) for v in leaf.value)}}}"
    if leaf.op == "not_in":  # `not` of an undefined fact would hold: bind it first
        return f"{_ref(leaf.fact)} == {_ref(leaf.fact)}; not {_ref(leaf.fact)} in " \
               f"{{{', '.join(json.dumps(v) for v in leaf.value)}}}"
    rhs = _ref(leaf.other_fact) if leaf.other_fact else json.dumps(leaf.value)
    return f"{_ref(leaf.fact)} {_OPS[leaf.op]} {rhs}"


class _Writer:
    """Collects the module's rules; nested disjunctions become helper rules."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._helpers = 0

    def body(self, cond: Condition, rule_id: str) -> list[str]:
        """The expressions of a rule body for a conjunction (or a single leaf / helper)."""
        if isinstance(cond, Leaf):
            return [_leaf(cond)]
        if isinstance(cond, All):
            return [e for c in cond.items for e in self.body(c, rule_id)]
        self._helpers += 1
        name = f"{rule_id.lower().replace('-', '_')}_any_{self._helpers}"
        for c in cond.items:  # type: ignore[union-attr]
            self.define(name, self.body(c, rule_id))
        return [name]

    def define(self, head: str, body: list[str]) -> None:
        self.lines.append(f"{head} if {{\n" + "".join(f"    {e}\n" for e in body) + "}\n")


def rego_module(policy: Policy) -> str:
    """The Rego module: `fired` is the set of the ids of the rules whose conditions hold."""
    w = _Writer()
    for rule in policy.rules:
        cond = to_nnf(rule.when)
        head = f"fired contains {json.dumps(rule.id)}"
        for branch in (cond.items if isinstance(cond, AnyOf) else (cond,)):
            w.define(head, w.body(branch, rule.id))
    return f"package {PACKAGE}\n\nimport rego.v1\n\n" + "\n".join(w.lines)


def rego_peer(policy: Policy) -> Callable[[dict[str, Any]], set[str]]:
    """facts -> fired rule ids: input set, the prepared bundle queried, once per decision."""
    import regopy

    build = regopy.Interpreter()
    build.add_module(f"{PACKAGE}.rego", rego_module(policy))
    entrypoint = f"{PACKAGE}/fired"
    bundle = build.build(None, [entrypoint])  # compiled once, as OPA's PreparedEvalQuery
    rego = regopy.Interpreter()

    def decide(facts: dict[str, Any]) -> set[str]:
        rego.set_input(regopy.Input(facts))
        out = rego.query_bundle_entrypoint(bundle, entrypoint)
        if not out.ok():
            raise RuntimeError(f"rego: {out}")
        return set(json.loads(str(out))["expressions"][0])

    return decide
