"""facts -> schema + defaults -> durable_rules -> precedence -> Decision."""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable
from typing import Any

from .compiler import CompiledPolicy
from .facts import get_path, prepare_facts
from .model import Policy, Rule
from .rationale import Decision, FiredRecommendation, NotFired, Suppressed, leaf_dict, render
from .reference import check
from .registry import PolicySet

__all__ = ["Engine", "project", "decide"]

Clock = Callable[[], _dt.datetime]


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def project(facts: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """Only the facts a policy reads: the engine never sees anything else (C4)."""
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        present, value = get_path(facts, path)
        if present:
            section, name = path.split(".", 1)
            out.setdefault(section, {})[name] = value
    return out


def _precedence(policy: Policy, fired_ids: list[str]) -> list[Rule]:
    rules = [policy.rule(rid) for rid in fired_ids]
    return sorted(rules, key=lambda r: (r.priority, r.id))


def decide(compiled: CompiledPolicy, facts: dict[str, Any], *, explain: bool = False,
           decision_id: str | None = None, now: _dt.datetime | None = None) -> Decision:
    """Evaluate prepared facts on one compiled policy version."""
    policy = compiled.policy
    fired = _precedence(policy, compiled.fired(project(facts, policy.fact_paths)))
    suppressor: dict[str, str] = {}
    for rule in fired:
        for rec_id in rule.suppresses:
            suppressor.setdefault(rec_id, rule.id)
    recs: list[FiredRecommendation] = []
    suppressed: list[Suppressed] = []
    given: set[str] = set()
    for rule in fired:
        outcome = check(rule.when, facts)
        matched = tuple(leaf_dict(x, facts) for x in outcome.matched)
        for rec_id in rule.then:
            if rec_id in given:
                continue
            given.add(rec_id)
            if rec_id in suppressor:
                suppressed.append(Suppressed(rec_id, rule.id, suppressor[rec_id]))
                continue
            cat = policy.recommendations[rec_id]
            recs.append(FiredRecommendation(
                rec_id, cat.title, rule.indicator or cat.indicator, cat.category, cat.text, rule.id,
                render(rule.rationale, facts, policy, outcome.why()), rule.source, matched))
    return Decision(
        decision_id=decision_id or str(uuid.uuid4()), policy=policy,
        evaluated_at=(now or _utcnow()).isoformat().replace("+00:00", "Z"),
        session_id=facts["session"]["id"], fired=tuple(r.id for r in fired),
        recommendations=tuple(recs), suppressed=tuple(suppressed),
        not_fired=_why_not(policy, {r.id for r in fired}, facts) if explain else None,
    )


def _why_not(policy: Policy, fired: set[str], facts: dict[str, Any]) -> tuple[NotFired, ...]:
    out = []
    for rule in sorted(policy.rules, key=lambda r: (r.priority, r.id)):
        if rule.id in fired:
            continue
        failed = check(rule.when, facts).failed
        out.append(NotFired(rule.id, rule.title, leaf_dict(failed, facts) if failed else None))
    return tuple(out)


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
        compiled = self.resolve(policy, version)
        return decide(compiled, prepared, explain=explain, now=self.clock())
