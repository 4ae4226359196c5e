"""Redaction: the fact paths a deployment never writes to the decision log, replaced by a marker."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "redact", "redacted_paths"]

REDACTED = "[redacted]"


def redact(facts: Any, decision: dict[str, Any], fields: Iterable[str]) -> tuple[Any, dict[str, Any]]:
    """The facts and the decision with the given fact paths' values replaced.

    Only what changes is copied (the rest is shared with the inputs, which are
    never mutated): this runs on every decision, and deep copies cost more than
    the decision itself.
    """
    paths = set(fields)
    if not paths:
        return facts, decision
    if isinstance(facts, dict):
        facts = dict(facts)
        for path in paths:
            section, name = path.split(".", 1)
            sub = facts.get(section)
            if isinstance(sub, dict) and name in sub:
                facts[section] = {**sub, name: REDACTED}
    decision = dict(decision)
    if decision.get("recommendations"):
        decision["recommendations"] = [
            {**rec, "matched": [_redact_condition(c, paths) for c in rec["matched"]]}
            if any(_touches(c, paths) for c in rec.get("matched", ())) else rec
            for rec in decision["recommendations"]]
    if decision.get("not_fired"):
        decision["not_fired"] = [{**nf, "failed": _redact_condition(nf["failed"], paths)}
                                 if nf.get("failed") and _touches(nf["failed"], paths) else nf
                                 for nf in decision["not_fired"]]
    return facts, decision


def _touches(cond: dict[str, Any], paths: set[str]) -> bool:
    return cond.get("fact") in paths or cond.get("other_fact") in paths


def _redact_condition(cond: dict[str, Any], paths: set[str]) -> dict[str, Any]:
    out = dict(cond)
    if cond.get("fact") in paths:
        out["actual"] = REDACTED
    if cond.get("other_fact") in paths:
        out["expected"] = REDACTED
    return out


def redacted_paths(facts: Any) -> set[str]:
    """Fact paths the log stored as `[redacted]`."""
    out = set()
    for section, values in (facts.items() if isinstance(facts, dict) else ()):
        if isinstance(values, dict):
            out |= {f"{section}.{name}" for name, v in values.items() if v == REDACTED}
    return out - {"session.id"}  # never redacted (the audit key)
