"""The default policy for peer engines: generated for zen-engine and rule-engine, written by hand in Python.

Each peer returns the set of rule ids that fire; recommendations, precedence and
rationale are ours in every case, so the peers are compared on deciding alone.
Cedar and Rego models: `peer_cedar.py`, `peer_rego.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.policy.model import All, Condition, Leaf, Policy, to_nnf

_ZEN_OPS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _literal(v: Any) -> str:
    return json.dumps(v)


def _zen_leaf(leaf: Leaf) -> str:
    rhs = leaf.other_fact if leaf.other_fact else None
    guard = f"{leaf.fact} != null" + (f" and {rhs} != null" if rhs else "")
    if leaf.op == "not_in":
        test = " and ".join(f"{leaf.fact} != {_literal(v)}" for v in leaf.value)
    else:
        test = f"{leaf.fact} {_ZEN_OPS[leaf.op]} {rhs or _literal(leaf.value)}"
    return f"({guard} and {test})"


def _zen_condition(cond: Condition) -> str:
    """A condition in NNF as one ZEN expression, written as its tree (`and`, `or`), not expanded into paths."""
    if isinstance(cond, Leaf):
        if cond.op == "in":
            return "(" + " or ".join(_zen_leaf(Leaf(cond.fact, "eq", v)) for v in cond.value) + ")"
        return _zen_leaf(cond)
    joiner = " and " if isinstance(cond, All) else " or "
    return "(" + joiner.join(_zen_condition(c) for c in cond.items) + ")"


def zen_decision(policy: Policy) -> str:
    """A JDM graph as its users would write it: one decision table, hit policy `collect`, one row per rule."""
    rows = [{"_id": rule.id, "c": _zen_condition(to_nnf(rule.when)), "o": _literal(rule.id)} for rule in policy.rules]
    table = {"hitPolicy": "collect", "inputs": [{"id": "c", "name": "conditions"}],
             "outputs": [{"id": "o", "name": "rule", "field": "rule"}], "rules": rows}
    graph = {"nodes": [{"id": "in", "name": "in", "type": "inputNode", "content": {}},
                       {"id": "dt", "name": "rules", "type": "decisionTableNode", "content": table},
                       {"id": "out", "name": "out", "type": "outputNode", "content": {}}],
             "edges": [{"id": "e1", "sourceId": "in", "targetId": "dt", "type": "edge"},
                       {"id": "e2", "sourceId": "dt", "targetId": "out", "type": "edge"}]}
    return json.dumps(graph)


def zen_peer(policy: Policy) -> Callable[[dict[str, Any]], set[str]]:
    """facts -> fired rule ids: the decision's content compiled once (`ZenDecisionContent`), evaluated per input."""
    import zen

    decision = zen.ZenEngine().create_decision(zen.ZenDecisionContent(zen_decision(policy)))
    return lambda facts: {row["rule"] for row in decision.evaluate(facts)["result"]}


def rule_engine_peer(policy: Policy) -> Callable[[dict[str, Any]], set[str]]:
    """facts -> fired rule ids: one `rule_engine.Rule` per rule over the flattened facts."""
    import rule_engine

    rules = [(r.id, rule_engine.Rule(rule_engine_text(r.when))) for r in policy.rules]

    def decide(facts: dict[str, Any]) -> set[str]:
        values = flatten(facts, policy.fact_paths)
        return {rule_id for rule_id, rule in rules if rule.matches(values)}

    return decide


def flat(name: str) -> str:
    return name.replace(".", "__")


def _re_leaf(leaf: Leaf) -> str:
    fact, rhs = flat(leaf.fact), flat(leaf.other_fact) if leaf.other_fact else None
    guard = f"{fact} != null" + (f" and {rhs} != null" if rhs else "")
    if leaf.op in ("in", "not_in"):
        values = ", ".join(_literal(v) for v in leaf.value)
        test = f"{fact} {'in' if leaf.op == 'in' else 'not in'} [{values}]"
    else:
        test = f"{fact} {_ZEN_OPS[leaf.op]} {rhs or _literal(leaf.value)}"
    return f"({guard} and {test})"


def rule_engine_text(cond: Condition) -> str:
    """A rule-engine expression for a condition (negation pushed to the leaves, as we compile it)."""
    c = to_nnf(cond)
    if isinstance(c, Leaf):
        return _re_leaf(c)
    joiner = " and " if type(c).__name__ == "All" else " or "
    return "(" + joiner.join(rule_engine_text(x) for x in c.items) + ")"  # type: ignore[union-attr]


def flatten(facts: dict[str, Any], fact_paths: tuple[str, ...]) -> dict[str, Any]:
    return {flat(p): facts.get(p.split(".")[0], {}).get(p.split(".", 1)[1]) for p in fact_paths}


def plain_python(f: dict[str, Any]) -> set[str]:
    """The default policy as a clinic would hand-write it (prepared facts: defaults applied)."""
    s, a, c, h, p, pr = (f["session"], f["attendance"], f["clinical"], f["history"], f["plan"], f["preferences"])
    couples = s["type"] == "couples"
    absent = a["partners_present"] < a["partners_expected"]
    one = a["partners_present"] == 1
    reason = a["absence_reason"]
    discharge = p.get("discharge_in_days")
    near = discharge is not None and discharge <= 14
    out = set()
    if c["safety_concern"]:
        out.add("CA-001")
    if c["emotions_too_heightened"] or c["therapist_recommends_pause"]:
        out.add("CA-002")
    if couples:
        if absent:
            out.update(("CA-010", "CA-013"))
            if one:
                out.add("CA-012")
                if not c["safety_concern"]:
                    out.add("CA-011")
            if pr["absent_partner_wants_summary"]:
                out.add("CA-020" if pr["consent_to_share_summary"] else "CA-021")
            if pr["makeup_session_requested"]:
                out.add("CA-022")
        if reason in ("scheduling_conflict", "work", "caregiving") or pr["evening_sessions_preferred"]:
            out.add("CA-030")
        if reason in ("emotional_overwhelm", "needs_individual_work_first", "early_recovery_stabilization") \
                or c["partner_in_early_recovery"]:
            out.add("CA-031")
        if f["living_situation"]["living_separately"] or reason in ("temporary_conflict", "separation"):
            out.add("CA-032")
        if c["active_conflict_risks_recovery"] or c["major_decision_pending"] != "none" \
                or c["betrayal_to_process"] != "none" or c["both_ready_for_deep_work"]:
            out.add("CA-040")
        if near:
            out.add("CA-050")
            if h["couples_therapy_status"] != "not_enrolled":
                out.add("CA-051")
        if c["relapse_since_last_session"]:
            out.add("CA-052")
        if c["conflict_arose_in_recovery"]:
            out.add("CA-053")
        if p["milestone_reached"]:
            out.add("CA-054")
        if h["consecutive_joint_sessions_missed"] >= 3:
            out.add("CA-070")
    if h["couples_therapy_status"] == "paused" and c["both_ready_for_deep_work"] and not c["safety_concern"] \
            and not c["emotions_too_heightened"]:
        out.add("CA-060")
    days, hours = h.get("program_days_this_week"), h.get("program_hours_this_week")
    if (days is not None and days < 3) or (hours is not None and hours < 9):
        out.add("CA-080")
    return out
