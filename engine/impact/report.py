"""The impact report of a new policy version: one function the command line, the service and a web page call.

`impact_report(old, new, ...)` compares two loaded versions three ways: what the
files say (every change, at file:line), what the generated cases show (decisions
that change, grouped, each group naming the changes that cause it), and, when
given logged traffic, how many real decisions would change.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.decide.decider import Decider
from engine.impact.cases import CaseDiff, CaseInput, generated_cases
from engine.impact.changes import PolicyChange, policy_changes, rule_parameters
from engine.impact.outcome import KINDS, ChangeGroup
from engine.impact.traffic import TrafficCase, TrafficDiff, replay_traffic
from engine.policy.model import Policy
from engine.runtime.registry import PolicySet

__all__ = ["ImpactReport", "impact_report", "KIND_WORDS"]

KIND_WORDS = {
    "removed": "recommendation removed", "suppressed": "now suppressed", "added": "recommendation added",
    "unsuppressed": "no longer suppressed", "indicator": "indicator changed", "rule": "given by another rule",
    "rationale": "rationale changed", "text": "recommendation text changed",
    "order": "recommendations in another order",
}


@dataclass
class ImpactReport:
    """The whole report; `to_dict()` is its JSON (shape in `impact_report`'s docstring)."""

    old: Policy
    new: Policy
    changes: list[PolicyChange]
    cases: CaseDiff | None = None
    traffic: TrafficDiff | None = None
    seconds: float = 0.0
    groups: list[ChangeGroup] = field(default_factory=list)  # cases' and traffic's groups, in that order

    @property
    def changed(self) -> bool:
        """Does any decision's output change (recommendations, indicators, suppression, rationale, text)?"""
        return bool(self.groups)

    def kinds(self) -> Counter[str]:
        """Groups by kind of change, over generated cases and logged traffic."""
        return Counter(g.change.kind for g in self.groups)

    def summary(self) -> str:
        """One line: whether decisions change, and which kinds of change were seen."""
        every = "" if self.changed else "all "
        parts = []
        if self.cases is not None:
            parts.append(f"{self.cases.changed_cases:,} of {self.cases.cases:,}" if self.changed
                         else f"all {self.cases.cases:,}")
            parts[-1] += " generated cases"
        if self.traffic is not None:
            parts.append((f"{self.traffic.changed:,} of {self.traffic.replayed:,}" if self.changed
                          else f"{every}{self.traffic.replayed:,}") + " replayed logged decisions")
        where = " and ".join(parts) or "no cases"
        edits = f"{len(self.changes)} change{'s' if len(self.changes) != 1 else ''} to the policy"
        if not self.changed:
            return f"No decision changes: the two versions decide {where} alike; {edits}."
        seen = self.kinds()
        kinds = ", ".join(f"{KIND_WORDS[k]} ({seen[k]})" for k in KINDS if seen[k])
        return f"Decisions change in {where}: {kinds}; {edits}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": _version(self.old), "new": _version(self.new), "changed": self.changed,
            "summary": self.summary(), "kinds": dict(self.kinds()),
            "policy_changes": [c.to_dict() for c in self.changes],
            "generated": self.cases.to_dict() if self.cases else None,
            "traffic": self.traffic.to_dict() if self.traffic else None,
            "seconds": round(self.seconds, 3),
        }


def _version(p: Policy) -> dict[str, Any]:
    return {"policy": p.key, "id": p.id, "version": p.version, "sha256": p.sha256, "file": p.file,
            "effective_from": p.effective_from.isoformat(), "title": p.title}


def _causes(group: ChangeGroup, changes: list[PolicyChange], old: Policy, new: Policy) -> list[str]:
    """The policy changes that can make this group's change: its rules, their parameters, its catalog entry."""
    ch = group.change
    rules = {x for s in (ch.old, ch.new) if s for x in (s.rule, s.suppressed_by) if x}
    params = {p for pol in (old, new) for r in pol.rules if r.id in rules for p in rule_parameters(r)}
    out = []
    for c in changes:
        if ch.kind == "order" and c.section == "rule" and c.field == "priority":
            out.append(c.ref)
        elif ((c.section == "rule" and c.subject in rules) or (c.section == "parameter" and c.subject in params)
                or (c.section == "recommendation" and c.subject == ch.rec)):
            out.append(c.ref)
    return list(dict.fromkeys(out))


def impact_report(old: Policy, new: Policy, *, deciders: tuple[Decider, Decider] | None = None,
                  scenarios: Sequence[CaseInput] = (), generated: bool = True,
                  traffic: Iterable[TrafficCase] | None = None, traffic_source: str = "the decision log",
                  traffic_limit: int | None = None, isolate: bool = True) -> ImpactReport:
    """Compare `old` and `new`; `deciders` (old, new) if the caller has them compiled, else they are built here.

    The JSON (`to_dict()`), for the command line, the service and pages:
    `old`/`new`: {policy, id, version, sha256, file, effective_from, title};
    `changed`: any decision output changes; `summary`: one line; `kinds`: {kind: groups};
    `policy_changes`: [{section (parameter|effective_from|policy|changelog|recommendation|rule), subject,
    action (changed|added|removed), field, old, new, file, line, details: [{field, value}]}];
    `generated` (null when not run): {cases, changed_cases, description, enumeration: {cases, facts, seconds,
    full_product}, scenarios: {cases, skipped}, groups}; `traffic` (null without a log): {source,
    description, read, other_policy, replayed, changed, not_replayable, truncated, seconds,
    unreplayable: [{reason, count, decision_ids}], groups};
    each group: {kind (one of KINDS), recommendation, old, new ({given, rule, indicator | suppressed_by}),
    cases, causes (policy_changes refs, e.g. "parameter review_after_consecutive_missed"), scenarios,
    example (facts, generated cases only), example_from, before, after, wording {old, new} | null,
    decision_ids (logged traffic only, at most 100)}.
    """
    start = time.perf_counter()
    report = ImpactReport(old, new, policy_changes(old, new))
    sets: list[PolicySet] = []
    if deciders is None:  # two sets: the versions may share a key (a changed copy of a released file)
        sets = [PolicySet.build([old], isolate=isolate), PolicySet.build([new], isolate=isolate)]
        deciders = (sets[0].decider(old.key), sets[1].decider(new.key))
    try:
        if generated:
            report.cases = generated_cases(old, new, deciders, scenarios)
        if traffic is not None:
            report.traffic = replay_traffic(old, new, deciders, traffic, source=traffic_source, limit=traffic_limit)
    finally:
        for s in sets:
            s.close()
    report.groups = [*(report.cases.groups if report.cases else ()), *(report.traffic.groups if report.traffic else ())]
    for g in report.groups:
        g.causes = _causes(g, report.changes, old, new)
    report.seconds = time.perf_counter() - start
    return report
