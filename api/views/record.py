"""Evaluate, then log durably, then count: a decision exists only once it is committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import g

from api.http.bodies import DecisionRequest
from api.http.problems import LogUnavailable
from api.log.redaction import redact
from api.log.store import LogEntry
from api.state import state
from engine.core.errors import StoreError
from engine.decide.rationale import Decision

__all__ = ["Decided", "commit", "evaluate", "outcome"]

_SEVERITY = ("none", "info", "warning", "critical")


@dataclass(frozen=True)
class Decided:
    """A decision, its response body, and the (redacted) log entry that documents it."""

    decision: Decision
    body: dict[str, Any]
    entry: LogEntry


def evaluate(req: DecisionRequest) -> Decided:
    """The engine's decision and the log entry that documents it (redacted)."""
    app = state()
    decision = app.engine.evaluate(req.facts, policy=req.policy, version=req.version, explain=req.explain)
    body = decision.to_dict()
    facts, logged = redact(req.facts, body, app.settings.redact)
    ctx = g._get_current_object()  # one proxy look-up, not one per attribute
    caller = ctx.get("caller")
    entry = LogEntry(
        decision_id=decision.decision_id, evaluated_at=decision.evaluated_at, policy_id=decision.policy.id,
        policy_version=decision.policy.version, policy_sha256=decision.policy.sha256,
        session_id=decision.session_id, key_id=caller.key_id if caller else "anonymous",
        request_id=ctx.get("request_id", ""), facts=facts, decision=logged)
    return Decided(decision, body, entry)


def outcome(decision: Decision) -> str:
    """The most severe indicator among the recommendations (`none` when there are none)."""
    levels = [_SEVERITY.index(r.indicator) for r in decision.recommendations if r.indicator in _SEVERITY]
    return _SEVERITY[max(levels, default=0)]


def commit(decisions: Sequence[Decided]) -> list[dict[str, Any]]:
    """Log every decision durably (503 and nothing returned if that fails), then count them.

    Concurrent requests of one worker share transactions (`api.log.groupcommit`).
    """
    app = state()
    try:
        app.committer.submit([d.entry for d in decisions])
    except StoreError as e:
        raise LogUnavailable(f"the decision could not be logged, so it was not made: {e}") from e
    metrics = app.metrics
    for d in decisions:
        metrics.inc("attendance_decisions_total", {"policy": d.decision.policy.id,
                                                   "version": d.decision.policy.version,
                                                   "outcome": outcome(d.decision)})
    g.decision_count = len(decisions)
    return [d.body for d in decisions]
