"""Lint findings that need no fact space: unused parameters and catalog entries, missing rationale or source."""

from __future__ import annotations

from collections.abc import Callable

from engine.analysis.findings import Finding
from engine.analysis.space import policy_leaves
from engine.policy.model import Policy
from engine.policy.semantics import PLACEHOLDER
from engine.policy.yaml_source import Path

__all__ = ["static_findings", "PLACEHOLDER_TEXT"]

# Text a director leaves while drafting; a rule shipped with it explains nothing.
PLACEHOLDER_TEXT = frozenset({"", "todo", "tbd", "fixme", "...", "-", "n/a", "none", "xxx"})

Positions = Callable[[Path], "tuple[int, int] | None"]


def _used_params(policy: Policy) -> set[str]:
    used = {leaf.param for leaf in policy_leaves(policy) if leaf.param}
    for rule in policy.rules:
        used |= {n[len("param:"):] for n in PLACEHOLDER.findall(rule.rationale) if n.startswith("param:")}
    return used


def _blank(text: str) -> bool:
    return text.strip().strip(".").lower() in PLACEHOLDER_TEXT or text.strip() in PLACEHOLDER_TEXT


def static_findings(policy: Policy, positions: Positions) -> list[Finding]:
    """Findings about the catalog and the rules' texts."""
    out: list[Finding] = []

    def add(code: str, message: str, path: Path, rule: str | None = None) -> None:
        line, column = positions(path) or (None, None)
        out.append(Finding(code, "warning", message, policy.file, line, column, policy.key, rule))

    used = _used_params(policy)
    for name in policy.parameters:
        if name not in used:
            add("unused_parameter", f"parameter {name!r} is not used by any condition or rationale",
                ("parameters", name))
    given = {rid for r in policy.rules for rid in r.then}
    for rid in policy.recommendations:
        if rid not in given:
            add("unused_recommendation", f"recommendation {rid!r} is in the catalog but no rule gives it",
                ("recommendations", rid))
    for i, rule in enumerate(policy.rules):
        if _blank(rule.rationale):
            add("missing_rationale", f"rule {rule.id} has no rationale: a clinician cannot see why it fired",
                ("rules", i, "rationale"), rule.id)
        if _blank(rule.source):
            add("missing_source", f"rule {rule.id} cites no section of the clinical source",
                ("rules", i, "source"), rule.id)
    if not policy.must_decide:
        line, column = positions(("policy",)) or (None, None)
        out.append(Finding("no_must_decide", "info",
                           "no must_decide situations are declared, so lint cannot look for gaps",
                           policy.file, line, column, policy.key))
    return out
