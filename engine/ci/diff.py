"""Impact of a new policy version: every case the two versions decide differently, grouped by change.

Cases are the scenario facts plus an enumeration of the fact space. A
recommendation's presence, indicator and suppression depend only on the rules
that give or suppress it, so the enumeration takes, for each recommendation of
either version, every combination of the facts those rules read (in both
versions), with every other fact at its neutral value. That finds every kind of
change the full product of all facts would, in thousands of cases instead of
billions. Both versions decide each case with the compiled engine.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.analysis.logic import PolicyLogic, collapse
from engine.analysis.space import FactSpace, build_space, case_key, to_facts
from engine.ci.scenarios import Scenario
from engine.core.errors import FactsError, PolicyError
from engine.decide.rationale import Decision
from engine.facts.prepare import apply_defaults, prepare_facts
from engine.policy.model import Policy
from engine.runtime.registry import PolicySet

__all__ = ["RecState", "Change", "ChangeGroup", "DiffReport", "diff_policies", "SLICE_LIMIT"]

SLICE_LIMIT = 100_000  # combinations per recommendation before values that conditions treat alike are merged
_NOW = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)  # decisions here are compared, never logged
KINDS = ("removed", "suppressed", "added", "unsuppressed", "indicator", "rule")


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


@dataclass(frozen=True)
class Change:
    kind: str  # removed | suppressed | added | unsuppressed | indicator | rule
    rec: str
    old: RecState | None
    new: RecState | None


@dataclass
class ChangeGroup:
    """Every case with the same change, and the smallest of them."""

    change: Change
    cases: int = 0
    scenarios: list[str] = field(default_factory=list)
    example: dict[str, Any] = field(default_factory=dict)
    example_from: str = ""
    example_size: int = 1 << 30
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass
class DiffReport:
    old: Policy
    new: Policy
    facts: list[str]
    space_size: int
    enumerated: int = 0
    scenario_cases: int = 0
    skipped_scenarios: list[str] = field(default_factory=list)
    changed_cases: int = 0
    enum_seconds: float = 0.0
    seconds: float = 0.0
    groups: list[ChangeGroup] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return self.enumerated + self.scenario_cases


def _states(d: Decision) -> dict[str, RecState]:
    out = {r.id: RecState(True, r.rule, r.indicator) for r in d.recommendations}
    out.update({s.id: RecState(False, s.rule, suppressed_by=s.suppressed_by) for s in d.suppressed})
    return out


def _kind(old: RecState | None, new: RecState | None) -> str | None:
    if old is not None and old.given:
        if new is None:
            return "removed"
        if not new.given:
            return "suppressed"
        if new.indicator != old.indicator:
            return "indicator"
        return "rule" if new.rule != old.rule else None
    if new is not None and new.given:
        return "unsuppressed" if old is not None else "added"
    return None  # neither version gives it: a change of suppressor only is not a change of the decision


def changes(old: Decision, new: Decision) -> list[Change]:
    """Every recommendation the two decisions treat differently."""
    a, b = _states(old), _states(new)
    out = []
    for rec in sorted(set(a) | set(b)):
        kind = _kind(a.get(rec), b.get(rec))
        if kind:
            out.append(Change(kind, rec, a.get(rec), b.get(rec)))
    return out


def _summary(d: Decision) -> tuple[str, ...]:
    return tuple([f"{r.id} ({r.rule}, {r.indicator})" for r in d.recommendations]
                 + [f"{s.id} suppressed by {s.suppressed_by}" for s in d.suppressed])


def _size(facts: dict[str, Any]) -> int:
    return sum(len(v) for v in facts.values()) - 1  # the session id is not a condition


def _slices(space: FactSpace, logics: Sequence[PolicyLogic]) -> Iterator[list[str]]:
    recs = sorted({r for lg in logics for r in lg.policy.recommendations})
    for rec in recs:
        facts = set().union(*(lg.rec_facts(rec) for lg in logics if rec in lg.givers))
        yield [p for p in space.paths if p in facts]


class _Differ:
    def __init__(self, report: DiffReport, sets: tuple[PolicySet, PolicySet]) -> None:
        self.report = report
        self.old = sets[0].decider(report.old.key)
        self.new = sets[1].decider(report.new.key)
        self.groups: dict[Change, ChangeGroup] = {}
        self.seen: set[str] = set()

    def case(self, facts: dict[str, Any], prepared: dict[str, Any], label: str, scenario: str | None) -> None:
        before, after = self.old.decide(prepared, now=_NOW), self.new.decide(prepared, now=_NOW)
        found = changes(before, after)
        if found:
            self.report.changed_cases += 1
        for ch in found:
            g = self.groups.setdefault(ch, ChangeGroup(ch))
            g.cases += 1
            if scenario is not None:
                g.scenarios.append(scenario)
            if _size(facts) < g.example_size:
                g.example, g.example_from, g.example_size = facts, label, _size(facts)
                g.before, g.after = _summary(before), _summary(after)

    def scenarios(self, scenarios: Sequence[Scenario]) -> None:
        for sc in scenarios:
            try:
                prepared = prepare_facts(sc.facts)
            except FactsError:
                self.report.skipped_scenarios.append(sc.where)
                continue
            self.report.scenario_cases += 1
            self.case(sc.facts, prepared, f"scenario {sc.name!r} ({sc.where})", f"{sc.name} ({sc.where})")

    def enumerate(self, space: FactSpace, slices: list[list[str]]) -> None:
        start = time.perf_counter()
        for paths in slices:
            n = space.size(paths)
            if n > SLICE_LIMIT:
                raise PolicyError(f"the enumeration would need {n:,} cases for the facts {', '.join(paths)}; "
                                  f"at most {SLICE_LIMIT:,}: split the conditions that read them")
            for assign in space.assignments(paths):
                facts = to_facts(assign, f"diff-{len(self.seen) + 1:05d}")
                key = case_key(facts)
                if key in self.seen:
                    continue
                self.seen.add(key)
                self.report.enumerated += 1
                self.case(facts, apply_defaults(facts), "enumerated", None)
        self.report.enum_seconds = time.perf_counter() - start


def _order(group: ChangeGroup) -> tuple[int, str, int]:
    return (KINDS.index(group.change.kind), group.change.rec, -group.cases)


def diff_policies(old: Policy, new: Policy, scenarios: Sequence[Scenario], *, isolate: bool = True) -> DiffReport:
    """Decide every case on both versions (compiled) and group what changes."""
    start = time.perf_counter()
    space = build_space([old, new])
    logics = [PolicyLogic(old), PolicyLogic(new)]
    slices = list(_slices(space, logics))
    if any(space.size(s) > SLICE_LIMIT for s in slices):
        space = collapse(space, [old, new])
    report = DiffReport(old, new, list(space.paths), build_space([old, new]).size())
    # Two sets: the versions may share a key (a changed copy of a released file).
    sets = (PolicySet.build([old], isolate=isolate), PolicySet.build([new], isolate=isolate))
    try:
        differ = _Differ(report, sets)
        differ.scenarios(scenarios)
        differ.enumerate(space, slices)
    finally:
        for s in sets:
            s.close()
    report.groups = sorted(differ.groups.values(), key=_order)
    report.seconds = time.perf_counter() - start
    return report
