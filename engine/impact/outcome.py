"""How two decisions on the same facts differ, recommendation by recommendation, and groups of alike changes.

A change is one recommendation treated differently: added, removed, now (or no
longer) suppressed, another indicator, given by another rule, another rationale
(the rendered text), or other wording (title, text, category, source); or the
same recommendations in another order (precedence). Cases
with the same change form one group; a group keeps its smallest case (generated
cases) or its decision ids (logged traffic), never logged facts.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from engine.decide.rationale import Decision, FiredRecommendation

__all__ = ["RecState", "Change", "ChangeGroup", "Grouper", "changes", "KINDS", "NOW"]

NOW = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)  # decisions compared here are never logged
KINDS = ("removed", "suppressed", "added", "unsuppressed", "indicator", "rule", "rationale", "text", "order")
MAX_IDS = 100  # decision ids kept per group of logged decisions (the count is exact)


@dataclass(frozen=True)
class RecState:
    """One recommendation in one decision: given (by a rule, at an indicator) or suppressed (by a rule)."""

    given: bool
    rule: str
    indicator: str | None = None
    suppressed_by: str | None = None

    def describe(self) -> str:
        if self.given:
            return f"{self.rule} ({self.indicator})"
        return f"suppressed by {self.suppressed_by}"

    def to_dict(self) -> dict[str, Any]:
        if self.given:
            return {"given": True, "rule": self.rule, "indicator": self.indicator}
        return {"given": False, "rule": self.rule, "suppressed_by": self.suppressed_by}


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    rec: str
    old: RecState | None
    new: RecState | None


@dataclass
class ChangeGroup:
    """Every case with the same change: how many, an example (or decision ids), and what causes it."""

    change: Change
    cases: int = 0
    scenarios: list[str] = field(default_factory=list)
    example: dict[str, Any] = field(default_factory=dict)
    example_from: str = ""
    example_size: int = 1 << 30
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    wording: tuple[str, str] | None = None  # (old, new) rationale or text of the recommendation, for those kinds
    decision_ids: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)  # PolicyChange.ref of the changes that cause it

    def to_dict(self) -> dict[str, Any]:
        ch = self.change
        return {"kind": ch.kind, "recommendation": ch.rec, "old": ch.old.to_dict() if ch.old else None,
                "new": ch.new.to_dict() if ch.new else None, "cases": self.cases, "causes": self.causes,
                "scenarios": self.scenarios, "example": self.example or None, "example_from": self.example_from,
                "before": list(self.before), "after": list(self.after),
                "wording": {"old": self.wording[0], "new": self.wording[1]} if self.wording else None,
                "decision_ids": self.decision_ids}


def _states(d: Decision) -> dict[str, RecState]:
    out = {r.id: RecState(True, r.rule, r.indicator) for r in d.recommendations}
    out.update({s.id: RecState(False, s.rule, suppressed_by=s.suppressed_by) for s in d.suppressed})
    return out


def _presence(old: RecState | None, new: RecState | None) -> str | None:
    if old is not None and old.given:
        if new is None:
            return "removed"
        return "suppressed" if not new.given else None
    if new is not None and new.given:
        return "unsuppressed" if old is not None else "added"
    return None  # neither version gives it: a change of suppressor only is not a change of the decision


def _wording(a: FiredRecommendation, b: FiredRecommendation) -> list[str]:
    if a.rule != b.rule:
        return ["rule"]  # another rule: its rationale differs by construction
    out = ["rationale"] if a.rationale != b.rationale else []
    if (a.title, a.text, a.category, a.source) != (b.title, b.text, b.category, b.source):
        out.append("text")
    return out


def changes(old: Decision, new: Decision) -> list[Change]:
    """Every way the two decisions treat a recommendation differently (output, rationale and wording included)."""
    a, b = _states(old), _states(new)
    given_a = {r.id: r for r in old.recommendations}
    given_b = {r.id: r for r in new.recommendations}
    out = []
    for rec in sorted(set(a) | set(b)):
        sa, sb = a.get(rec), b.get(rec)
        kind = _presence(sa, sb)
        if kind:
            out.append(Change(kind, rec, sa, sb))
            continue
        if rec in given_a and rec in given_b:
            kinds = (["indicator"] if given_a[rec].indicator != given_b[rec].indicator else [])
            out += [Change(k, rec, sa, sb) for k in kinds + _wording(given_a[rec], given_b[rec])]
    before, after = [r.id for r in old.recommendations], [r.id for r in new.recommendations]
    if sorted(before) == sorted(after) and before != after:  # the same recommendations in another order
        out.append(Change("order", " > ".join(after), None, None))
    return out


def _summary(d: Decision) -> tuple[str, ...]:
    return tuple([f"{r.id} ({r.rule}, {r.indicator})" for r in d.recommendations]
                 + [f"{s.id} suppressed by {s.suppressed_by}" for s in d.suppressed])


def _size(facts: dict[str, Any]) -> int:
    return sum(len(v) for v in facts.values() if isinstance(v, dict)) - 1  # the session id is not a condition


def _words(kind: str, rec: str, old: Decision, new: Decision) -> tuple[str, str] | None:
    if kind not in ("rationale", "text"):
        return None
    a = next(r for r in old.recommendations if r.id == rec)
    b = next(r for r in new.recommendations if r.id == rec)
    if kind == "rationale":
        return a.rationale, b.rationale
    return (f"{a.title}: {a.text} (source: {a.source}; {a.category})",
            f"{b.title}: {b.text} (source: {b.source}; {b.category})")


class Grouper:
    """Collects the changes of many (before, after) pairs into groups."""

    def __init__(self) -> None:
        self.groups: dict[Change, ChangeGroup] = {}
        self.changed = 0

    def add(self, before: Decision, after: Decision, *, facts: dict[str, Any] | None = None, label: str = "",
            scenario: str | None = None, decision_id: str | None = None) -> bool:
        """Add one case; True when the two decisions differ."""
        found = changes(before, after)
        if not found:
            return False
        self.changed += 1
        for ch in found:
            g = self.groups.get(ch)
            if g is None:
                g = self.groups[ch] = ChangeGroup(ch, wording=_words(ch.kind, ch.rec, before, after))
            g.cases += 1
            if scenario is not None:
                g.scenarios.append(scenario)
            if decision_id is not None and len(g.decision_ids) < MAX_IDS:
                g.decision_ids.append(decision_id)
            if facts is not None and _size(facts) < g.example_size:
                g.example, g.example_from, g.example_size = facts, label, _size(facts)
                g.before, g.after = _summary(before), _summary(after)
                g.wording = _words(ch.kind, ch.rec, before, after)
        return True

    def ordered(self) -> list[ChangeGroup]:
        return sorted(self.groups.values(), key=lambda g: (KINDS.index(g.change.kind), g.change.rec, -g.cases))
