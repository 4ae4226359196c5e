"""Benchmark 6: the default policy on peer engines, identical outputs asserted.

Peers (optional, `pip install -e '.[bench]'`): zen-engine (GoRules decision table,
Rust), rule-engine (Python expressions), and plain hand-written Python (the floor).
All get facts with defaults applied and return the fired rule ids; we compare
their cost with our raw engine call and with our whole evaluate().
Run: python bench/peers.py [--n N]
"""

from __future__ import annotations

from common import ROOT, arg_n, generated_facts, per_call_us, write_result
from peer_rules import flatten, plain_python, rule_engine_text, zen_decision

from engine import Engine, PolicySet, load_rules
from engine.facts.prepare import prepare_facts


def main() -> None:
    n = arg_n(5000)
    engine = Engine(PolicySet.build(load_rules([ROOT / "rules"]), isolate=False, memo_size=0))
    compiled = engine.resolve()
    policy, decider = compiled.policy, engine.policies.decider(compiled.name)
    facts = generated_facts(n, seed=6)
    prepared = [prepare_facts(f) for f in facts]
    projected = [decider.project(p)[1] for p in prepared]
    expected = [set(compiled.fired(p)) for p in projected]
    peers = {"plain_python": plain_python}
    try:
        import zen

        decision = zen.ZenEngine().create_decision(zen_decision(policy))
        peers["zen_engine"] = lambda f: {r["rule"] for r in decision.evaluate(f)["result"]}
    except ImportError:
        print("zen-engine not installed: skipped (pip install -e '.[bench]')")
    try:
        import rule_engine

        rules = [(r.id, rule_engine.Rule(rule_engine_text(r.when))) for r in policy.rules]
        peers["rule_engine"] = lambda f: (lambda flat: {rid for rid, rule in rules if rule.matches(flat)})(
            flatten(f, policy.fact_paths))
    except ImportError:
        print("rule-engine not installed: skipped (pip install -e '.[bench]')")
    for name, fn in peers.items():
        mismatches = [i for i, p in enumerate(prepared) if fn(p) != expected[i]]
        assert not mismatches, f"{name} disagrees on case {mismatches[0]}: {facts[mismatches[0]]}"
    ours_raw = per_call_us(compiled.fired, projected)
    ours_full = per_call_us(engine.evaluate, facts)
    rows = {"attendance_policy_engine": round(ours_raw, 1), "attendance_policy_evaluate": round(ours_full, 1)}
    for name, fn in peers.items():
        rows[name] = round(per_call_us(fn, prepared), 1)
    floor = rows["plain_python"]
    for name, us in rows.items():
        print(f"{name:28s} {us:8.1f} us  x{us / floor:6.1f} plain Python   x{us / ours_raw:5.2f} our engine")
    path = write_result("peers", {"n": n, "identical_outputs": True, "us_per_decision": rows})
    print(f"identical fired rules on {n} generated facts for every peer; wrote {path}")


if __name__ == "__main__":
    main()
