"""facts -> schema + defaults -> durable_rules -> precedence -> Decision."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from .compiler import CompiledPolicy
from .decider import Decider, fact_pairs
from .decider import project as _project
from .facts import prepare_facts
from .rationale import Decision
from .registry import PolicySet

__all__ = ["Engine", "project", "decide"]

Clock = Callable[[], _dt.datetime]


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def project(facts: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """Only the facts a policy reads: the engine never sees anything else (C4)."""
    return _project(facts, fact_pairs(paths))[1]


def decide(compiled: CompiledPolicy, facts: dict[str, Any], *, explain: bool = False,
           decision_id: str | None = None, now: _dt.datetime | None = None) -> Decision:
    """Evaluate prepared facts on one compiled policy version, without a memo."""
    return Decider(compiled, memo_size=0).decide(facts, explain=explain, decision_id=decision_id,
                                                 now=now or _utcnow())


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
