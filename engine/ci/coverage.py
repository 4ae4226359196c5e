"""Scenario coverage per policy version: rules fired, and condition leaves seen both true and false.

A leaf is counted once per rule it appears in (a shared YAML anchor is one leaf
in each rule), evaluated as written on every scenario's prepared facts; a leaf
about an absent fact is false. A scenario counts for the version it ran against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.ci.scenarios import ScenarioResult
from engine.decide.reference import leaf_holds
from engine.policy.model import SYMBOL, Leaf, Policy, leaves

__all__ = ["LeafRef", "Coverage", "measure"]


@dataclass(frozen=True)
class LeafRef:
    rule: str
    index: int
    leaf: Leaf

    def describe(self) -> str:
        rhs = self.leaf.other_fact or _show(self.leaf.expected())
        return f"{self.rule} `{self.leaf.fact} {SYMBOL[self.leaf.op]} {rhs}`"


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(map(str, v)) + "]"
    return str(v)


@dataclass
class Coverage:
    """What the scenarios run against one policy version exercised."""

    policy: Policy
    required: bool  # counts towards --min-coverage (tested, or the newest version of its policy)
    scenarios: int = 0
    fired: set[str] = field(default_factory=set)
    seen: dict[LeafRef, set[bool]] = field(default_factory=dict)

    @property
    def rules_total(self) -> int:
        return len(self.policy.rules)

    @property
    def leaves_total(self) -> int:
        return len(self.seen)

    @property
    def rules_covered(self) -> int:
        return sum(1 for r in self.policy.rules if r.id in self.fired)

    @property
    def leaves_covered(self) -> int:
        return sum(1 for v in self.seen.values() if len(v) == 2)

    @property
    def rule_pct(self) -> float:
        return 100.0 * self.rules_covered / self.rules_total if self.rules_total else 100.0

    @property
    def leaf_pct(self) -> float:
        return 100.0 * self.leaves_covered / self.leaves_total if self.leaves_total else 100.0

    def never_fired(self) -> list[tuple[str, int | None]]:
        return [(r.id, r.line) for r in self.policy.rules if r.id not in self.fired]

    def half_seen(self) -> list[tuple[LeafRef, str]]:
        """Leaves not seen both ways, with what was missing ("never true" / "never false")."""
        out = []
        for ref, values in self.seen.items():
            if len(values) < 2:
                out.append((ref, "never true" if True not in values else "never false"))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.key, "required": self.required, "scenarios": self.scenarios,
            "rules": {"covered": self.rules_covered, "total": self.rules_total, "percent": round(self.rule_pct, 1),
                      "never_fired": [{"rule": r, "line": line} for r, line in self.never_fired()]},
            "leaves": {"covered": self.leaves_covered, "total": self.leaves_total, "percent": round(self.leaf_pct, 1),
                       "not_both_ways": [{"rule": ref.rule, "leaf": ref.describe(), "line": ref.leaf.line,
                                          "missing": missing} for ref, missing in self.half_seen()]},
        }


def _empty(policy: Policy, required: bool) -> Coverage:
    cov = Coverage(policy, required)
    for rule in policy.rules:
        for i, leaf in enumerate(leaves(rule.when)):
            cov.seen[LeafRef(rule.id, i, leaf)] = set()
    return cov


def measure(policies: Sequence[Policy], results: Iterable[ScenarioResult]) -> dict[str, Coverage]:
    """Coverage of every loaded version by the scenario results (in policy-key order)."""
    newest = {}
    for p in sorted(policies, key=lambda p: p.version_tuple):
        newest[p.id] = p.key
    results = list(results)
    tested = {r.policy_key for r in results}
    out = {p.key: _empty(p, p.key in tested or newest[p.id] == p.key) for p in policies}
    for res in results:
        cov = out.get(res.policy_key or "")
        if cov is None or res.decision is None or res.facts is None:
            continue
        cov.scenarios += 1
        cov.fired.update(res.decision.fired)
        for ref, values in cov.seen.items():
            values.add(leaf_holds(ref.leaf, res.facts))
    return dict(sorted(out.items()))
