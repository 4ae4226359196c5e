"""Generated cases: every situation the two versions could decide differently, decided by both.

Cases are the scenario facts plus an enumeration of the fact space. A
recommendation's presence, indicator and suppression depend only on the rules
that give or suppress it, so the enumeration takes, for each recommendation of
either version, every combination of the facts those rules read (in both
versions), with every other fact at its neutral value. That finds every kind of
change the full product of all facts would, in thousands of cases instead of
billions; two rules whose precedence the versions swap add the combinations of
the facts that decide both (a change of order needs both to fire). Both versions
decide each case with the compiled engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.analysis.logic import PolicyLogic, collapse
from engine.analysis.space import FactSpace, build_space, case_key, to_facts
from engine.core.errors import FactsError, PolicyError
from engine.decide.decider import Decider
from engine.facts.prepare import apply_defaults, prepare_facts
from engine.impact.outcome import NOW, ChangeGroup, Grouper
from engine.policy.model import Policy

__all__ = ["CaseInput", "CaseDiff", "generated_cases", "slices", "SLICE_LIMIT"]

SLICE_LIMIT = 100_000  # combinations per recommendation before values that conditions treat alike are merged


@dataclass(frozen=True)
class CaseInput:
    """A hand-written case (a scenario): its name and where it is written, and its facts."""

    name: str
    where: str
    facts: Any


@dataclass
class CaseDiff:
    """What the generated cases show: how many, over which facts, and the groups of changed decisions."""

    facts: list[str]
    space_size: int
    enumerated: int = 0
    scenario_cases: int = 0
    skipped_scenarios: list[str] = field(default_factory=list)
    changed_cases: int = 0
    enum_seconds: float = 0.0
    groups: list[ChangeGroup] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return self.enumerated + self.scenario_cases

    def sentence(self) -> str:
        """What the generated cases are, in one sentence."""
        return (f"The {self.cases:,} cases are generated, not patients: {self.enumerated:,} combinations of the "
                f"{len(self.facts)} facts the two versions read (each threshold, one below and one above; every "
                f"other fact at its default) and {self.scenario_cases:,} scenarios from the policy's tests.")

    def to_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "changed_cases": self.changed_cases, "description": self.sentence(),
                "enumeration": {"cases": self.enumerated, "facts": self.facts, "seconds": round(self.enum_seconds, 3),
                                "full_product": self.space_size},
                "scenarios": {"cases": self.scenario_cases, "skipped": self.skipped_scenarios},
                "groups": [g.to_dict() for g in self.groups]}


def slices(space: FactSpace, logics: Sequence[PolicyLogic]) -> Iterator[list[str]]:
    """For each recommendation of either version, the facts the rules giving it read."""
    recs = sorted({r for lg in logics for r in lg.policy.recommendations})
    for rec in recs:
        facts = set().union(*(lg.rec_facts(rec) for lg in logics if rec in lg.givers))
        yield [p for p in space.paths if p in facts]


def order_slices(space: FactSpace, logics: Sequence[PolicyLogic]) -> Iterator[list[str]]:
    """For each two rules whose precedence the versions swap, the facts that decide what both give."""
    old, new = (lg.policy for lg in logics)
    before = {r.id: (r.priority, r.id) for r in old.rules}
    after = {r.id: (r.priority, r.id) for r in new.rules}
    common = sorted(set(before) & set(after))
    for i, a in enumerate(common):
        for b in common[i + 1:]:
            if (before[a] < before[b]) != (after[a] < after[b]):
                recs = {x for p in (old, new) for r in p.rules if r.id in (a, b) for x in r.then}
                facts = set().union(*(lg.rec_facts(rec) for lg in logics for rec in recs if rec in lg.givers))
                yield [p for p in space.paths if p in facts]


class _Run:
    def __init__(self, report: CaseDiff, deciders: tuple[Decider, Decider]) -> None:
        self.report = report
        self.old, self.new = deciders
        self.grouper = Grouper()
        self.seen: set[str] = set()

    def case(self, facts: dict[str, Any], prepared: dict[str, Any], label: str, scenario: str | None) -> None:
        before = self.old.decide(prepared, now=NOW, decision_id="case")
        after = self.new.decide(prepared, now=NOW, decision_id="case")
        if self.grouper.add(before, after, facts=facts, label=label, scenario=scenario):
            self.report.changed_cases += 1

    def scenarios(self, scenarios: Sequence[CaseInput]) -> None:
        for sc in scenarios:
            try:
                prepared = prepare_facts(sc.facts)
            except FactsError:
                self.report.skipped_scenarios.append(sc.where)
                continue
            self.report.scenario_cases += 1
            self.case(sc.facts, prepared, f"scenario {sc.name!r} ({sc.where})", f"{sc.name} ({sc.where})")

    def enumerate(self, space: FactSpace, paths_list: list[list[str]]) -> None:
        start = time.perf_counter()
        for paths in paths_list:
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


def generated_cases(old: Policy, new: Policy, deciders: tuple[Decider, Decider],
                    scenarios: Sequence[CaseInput] = ()) -> CaseDiff:
    """Decide every generated case (and each scenario) on both versions and group what changes."""
    space = build_space([old, new])
    logics = [PolicyLogic(old), PolicyLogic(new)]
    paths_list = [*slices(space, logics), *order_slices(space, logics)]
    full = space.size()
    if any(space.size(s) > SLICE_LIMIT for s in paths_list):
        space = collapse(space, [old, new])
    report = CaseDiff(list(space.paths), full)
    run = _Run(report, deciders)
    run.scenarios(scenarios)
    run.enumerate(space, paths_list)
    report.groups = run.grouper.ordered()
    return report
