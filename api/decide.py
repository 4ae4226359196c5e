"""Evaluate, then log durably, then count: a decision exists only once it is committed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import g

from engine.rationale import Decision

from .app import state
from .bodies import DecisionRequest
from .problems import LogUnavailable
from .store import LogEntry, StoreError, redact

__all__ = ["commit", "evaluate", "outcome"]

_SEVERITY = ("none", "info", "warning", "critical")


def evaluate(req: DecisionRequest) -> tuple[Decision, LogEntry]:
    """The engine's decision and the log entry that documents it (redacted)."""
    decision = state().engine.evaluate(req.facts, policy=req.policy, version=req.version, explain=req.explain)
    body = decision.to_dict()
    facts, logged = redact(req.facts, body, state().settings.redact)
    caller = g.get("caller")
    entry = LogEntry(
        decision_id=decision.decision_id, evaluated_at=decision.evaluated_at, policy_id=decision.policy.id,
        policy_version=decision.policy.version, policy_sha256=decision.policy.sha256,
        session_id=decision.session_id, key_id=caller.key_id if caller else "anonymous",
        request_id=g.get("request_id", ""), facts=facts, decision=logged)
    return decision, entry


def outcome(decision: Decision) -> str:
    """The most severe indicator among the recommendations (`none` when there are none)."""
    levels = [_SEVERITY.index(r.indicator) for r in decision.recommendations if r.indicator in _SEVERITY]
    return _SEVERITY[max(levels, default=0)]


def commit(decisions: Sequence[tuple[Decision, LogEntry]]) -> list[dict[str, Any]]:
    """Log every decision in one transaction (503 and nothing returned if that fails), then count them."""
    try:
        state().store.append([entry for _, entry in decisions])
    except StoreError as e:
        raise LogUnavailable(f"the decision could not be logged, so it was not made: {e}") from e
    metrics = state().metrics
    for decision, _ in decisions:
        metrics.inc("attendance_decisions_total", {"policy": decision.policy.id, "version": decision.policy.version,
                                                   "outcome": outcome(decision)})
    g.decision_count = len(decisions)
    return [d.to_dict() for d, _ in decisions]
