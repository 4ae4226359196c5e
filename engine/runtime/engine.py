"""The engine a caller holds: session facts -> schema + defaults -> the active version's Decider -> Decision."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from engine.compile.ruleset import CompiledPolicy
from engine.core.errors import PolicyLoadError
from engine.decide.rationale import Decision
from engine.facts.prepare import prepare_facts
from engine.runtime.gate import admit
from engine.runtime.registry import PolicySet

__all__ = ["Engine", "load_engine"]

Clock = Callable[[], _dt.datetime]


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class Engine:
    """Evaluates session facts against the loaded policy versions."""

    def __init__(self, policies: PolicySet, clock: Clock = _utcnow) -> None:
        self.policies = policies
        self.clock = clock

    def resolve(self, policy: str | None = None, version: str | None = None) -> CompiledPolicy:
        return self.policies.resolve(policy, version, self.clock().date())

    def evaluate(self, facts: Any, *, policy: str | None = None, version: str | None = None,
                 explain: bool = False) -> Decision:
        """Validate facts (FactsError lists every problem), pick the version, decide."""
        prepared = prepare_facts(facts)
        now = self.clock()
        policies = self.policies  # one read: a reload may swap the set meanwhile
        compiled = policies.resolve(policy, version, now.date())
        return policies.decider(compiled.name).decide(prepared, explain=explain, now=now)


def load_engine(rules: str, *, isolate: bool = True) -> Engine:
    """An Engine over every version under `rules`, all admitted by the gate; PolicyLoadError lists every refusal."""
    report = admit([rules], isolate=isolate)
    if report.problems:
        report.close()
        raise PolicyLoadError(report.problems)
    compiled = report.compiled()
    return Engine(PolicySet.of(compiled))
