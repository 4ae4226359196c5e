"""Logged traffic: re-decide the facts of logged decisions with both versions and count what would change.

The service's decision log (api/log) turns each record into a TrafficCase: its
decision id, its policy, its facts without the redacted ones, and which fact
paths were redacted. A redacted fact that either version reads makes a case
"cannot be replayed" (with the reason); one that neither reads does not matter.
Only ids and counts come out, never facts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.core.errors import PolicyError
from engine.decide.decider import Decider
from engine.facts.prepare import prepare_facts
from engine.impact.outcome import MAX_IDS, NOW, ChangeGroup, Grouper
from engine.policy.model import Policy

__all__ = ["TrafficCase", "Unreplayable", "TrafficDiff", "replay_traffic"]


@dataclass(frozen=True)
class TrafficCase:
    """One logged decision, as the log can give it back."""

    decision_id: str
    policy_id: str
    facts: dict[str, Any]  # as logged, with every redacted fact left out
    redacted: frozenset[str] = frozenset()


@dataclass
class Unreplayable:
    reason: str
    count: int = 0
    decision_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "decision_ids": self.decision_ids}


@dataclass
class TrafficDiff:
    """How the logged decisions would be decided by the two versions."""

    source: str  # where they came from, e.g. the decision log's path and the time window
    read: int = 0
    other_policy: int = 0
    replayed: int = 0
    changed: int = 0
    seconds: float = 0.0
    groups: list[ChangeGroup] = field(default_factory=list)
    unreplayable: list[Unreplayable] = field(default_factory=list)
    truncated: bool = False  # stopped at the limit: more decisions are in the window

    @property
    def not_replayed(self) -> int:
        return sum(u.count for u in self.unreplayable)

    def sentence(self) -> str:
        return (f"{self.read:,} logged decisions read from {self.source}"
                f"{' (stopped at the limit: more are logged in that window)' if self.truncated else ''}: "
                f"{self.replayed:,} re-decided with both versions, {self.not_replayed:,} cannot be replayed, "
                f"{self.other_policy:,} belong to another policy.")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "description": self.sentence(), "read": self.read,
                "other_policy": self.other_policy, "replayed": self.replayed, "changed": self.changed,
                "not_replayable": self.not_replayed, "truncated": self.truncated,
                "seconds": round(self.seconds, 3),
                "unreplayable": [u.to_dict() for u in self.unreplayable],
                "groups": [g.to_dict() for g in self.groups]}


def _blocked(case: TrafficCase, old: Policy, new: Policy) -> str | None:
    """Why a case cannot be replayed: a redacted fact that a version reads (None: it can)."""
    if not case.redacted:
        return None
    read = {p.key: sorted(case.redacted & set(p.fact_paths)) for p in (old, new)}
    hidden = sorted({path for paths in read.values() for path in paths})
    if not hidden:
        return None
    if len({tuple(paths) for paths in read.values()}) == 1:
        return f"the decision log redacted {', '.join(hidden)}, which both versions read"
    parts = [f"{key} reads {', '.join(paths)}" for key, paths in read.items() if paths]
    return f"the decision log redacted {', '.join(hidden)}, which {' and '.join(parts)}"


def replay_traffic(old: Policy, new: Policy, deciders: tuple[Decider, Decider], cases: Iterable[TrafficCase], *,
                   source: str, limit: int | None = None) -> TrafficDiff:
    """Re-decide each logged case of the versions' policy on both versions; group what changes."""
    start = time.perf_counter()
    out = TrafficDiff(source)
    grouper = Grouper()
    reasons: dict[str, Unreplayable] = {}
    ids = {old.id, new.id}
    for case in cases:
        if limit is not None and out.read >= limit:
            out.truncated = True
            break
        out.read += 1
        if case.policy_id not in ids:
            out.other_policy += 1
            continue
        reason = _blocked(case, old, new)
        if reason is None:
            try:
                prepared = prepare_facts(case.facts)
            except PolicyError as e:
                reason = f"the logged facts are not valid facts today: {e.code}"
            else:
                out.replayed += 1
                before = deciders[0].decide(prepared, now=NOW, decision_id=case.decision_id)
                after = deciders[1].decide(prepared, now=NOW, decision_id=case.decision_id)
                out.changed += grouper.add(before, after, decision_id=case.decision_id)
                continue
        u = reasons.setdefault(reason, Unreplayable(reason))
        u.count += 1
        if len(u.decision_ids) < MAX_IDS:
            u.decision_ids.append(case.decision_id)
    out.groups = grouper.ordered()
    out.unreplayable = sorted(reasons.values(), key=lambda u: -u.count)
    out.seconds = time.perf_counter() - start
    return out
