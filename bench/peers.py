"""Benchmark 6: the default policy on peer engines, identical outputs asserted, timed side by side.

Peers (optional, `pip install -e '.[bench]'`), each modelled as its users would write the policy:
zen-engine (GoRules decision table, collect hit policy, one row per rule; Rust), rule-engine
(one Python expression per rule), cedarpy (one Cedar `permit ... when` per rule, the determining
policies of one `is_authorized`; Rust), regopy (one Rego rule per rule into the set `fired`;
rego-cpp), and plain hand-written Python (the floor). All get facts with defaults applied and
return the fired rule ids; we compare them with our raw engine call and our whole evaluate()
(memo off: validation, defaults, precedence, rationale, the decision), in interleaved rounds.
Run: python bench/peers.py [--n N] [--rounds R]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from common import ROOT, arg_n, generated_facts, write_result
from peer_cedar import cedar_peer
from peer_rego import rego_peer
from peer_rules import plain_python, rule_engine_peer, zen_peer
from peer_timing import Contender, interleaved

from engine import Engine, PolicySet, load_rules
from engine.facts.prepare import prepare_facts
from engine.policy.model import Policy

Peer = Callable[[dict[str, Any]], set[str]]
GENERAL = {"zen_engine": zen_peer, "rule_engine": rule_engine_peer, "cedarpy": cedar_peer, "regopy": rego_peer}


def _peers(policy: Policy) -> dict[str, Peer]:
    peers: dict[str, Peer] = {"plain_python": plain_python}
    for name, make in GENERAL.items():
        try:
            peers[name] = make(policy)
        except ImportError:
            print(f"{name} not installed: skipped (pip install -e '.[bench]')")
    return peers


def _rounds() -> int:
    return int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5


def main() -> None:
    n = arg_n(3000)
    engine = Engine(PolicySet.build(load_rules([ROOT / "rules"]), isolate=False, memo_size=0))
    compiled = engine.resolve()
    policy, decider = compiled.policy, engine.policies.decider(compiled.name)
    facts = generated_facts(n, seed=6)
    prepared = [prepare_facts(f) for f in facts]
    projected = [decider.project(p)[1] for p in prepared]
    expected = [set(compiled.fired(p)) for p in projected]
    peers = _peers(policy)
    for name, fn in peers.items():
        mismatches = [i for i, p in enumerate(prepared) if fn(p) != expected[i]]
        assert not mismatches, f"{name} disagrees on case {mismatches[0]}: {facts[mismatches[0]]}"
    contenders: dict[str, Contender] = {"attendance_policy_engine": (compiled.fired, projected),
                                        "attendance_policy_evaluate": (engine.evaluate, facts)}
    contenders.update({name: (fn, prepared) for name, fn in peers.items()})
    rows = interleaved(contenders, _rounds())
    _report(rows, n)


def _report(rows: dict[str, dict[str, float]], n: int) -> None:
    us = {name: r["median_us"] for name, r in rows.items()}
    floor, ours_raw = us["plain_python"], us["attendance_policy_engine"]
    for name, t in us.items():
        print(f"{name:28s} {t:8.1f} us (min {rows[name]['min_us']:7.1f})  x{t / floor:6.1f} plain Python   "
              f"x{t / ours_raw:5.2f} our engine")
    general = {name: t for name, t in us.items() if name in GENERAL}
    goal = {}
    if general:
        fastest = min(general, key=general.__getitem__)
        ratio = us["attendance_policy_evaluate"] / general[fastest]
        goal = {"fastest_general_peer": fastest, "evaluate_vs_fastest_peer": round(ratio, 2)}
        print(f"goal: evaluate() memo off <= the fastest general peer ({fastest}): x{ratio:.2f}")
    path = write_result("peers", {"n": n, "identical_outputs": True, "us_per_decision": us, "rounds": rows, **goal})
    print(f"identical fired rules on {n} generated facts for every peer; wrote {path}")


if __name__ == "__main__":
    main()
