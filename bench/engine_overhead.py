"""Benchmark 1: evaluate() per decision vs the raw durable_rules cycle on the same compiled ruleset.

Raw cycle = what a hand-written durable_rules integration must do at least:
serialise the facts, assert them, collect the fired rules, delete the state.
evaluate() adds schema validation, defaults, projection, precedence,
suppression, rationale and the decision object; with the memo on, repeated
projections skip the engine. Run: python bench/engine_overhead.py [--n N]
"""

from __future__ import annotations

import json

from common import ROOT, arg_n, generated_facts, per_call_us, realistic_facts, write_result

from engine import Engine, PolicySet, load_rules
from engine.compiler import dumps
from engine.facts import prepare_facts


def main() -> None:
    n = arg_n(10_000)
    policies = load_rules([ROOT / "rules"])
    rows = {}
    for label, facts in (("generated", generated_facts(n)), ("realistic", realistic_facts(n))):
        plain = Engine(PolicySet.build(policies, isolate=False, memo_size=0))
        memo = Engine(PolicySet.build(policies, isolate=False))
        compiled = plain.resolve()
        decider = plain.policies.decider(compiled.name)
        projected = [decider.project(prepare_facts(f))[1] for f in facts]
        raw = per_call_us(compiled.fired, projected)
        raw_full = per_call_us(lambda f: compiled.fired(json.loads(dumps(f))), facts[:0] or projected)
        no_memo = per_call_us(plain.evaluate, facts)
        with_dict = per_call_us(lambda f: plain.evaluate(f).to_dict(), facts)
        memo.evaluate(facts[0])
        with_memo = per_call_us(memo.evaluate, facts, repeat=1)
        d = memo.policies.decider(compiled.name)
        hit_rate = d.hits / max(1, d.hits + d.misses)
        rows[label] = {"n": n, "raw_us": round(raw, 1), "evaluate_us": round(no_memo, 1),
                       "evaluate_to_dict_us": round(with_dict, 1), "evaluate_memo_us": round(with_memo, 1),
                       "ratio": round(no_memo / raw, 2), "ratio_memo": round(with_memo / raw, 2),
                       "memo_hit_rate": round(hit_rate, 3), "raw_roundtrip_us": round(raw_full, 1)}
        print(f"{label:10s} n={n}: raw {raw:6.1f} us | evaluate {no_memo:6.1f} us (x{no_memo / raw:.2f}) | "
              f"+to_dict {with_dict:6.1f} us | with memo {with_memo:6.1f} us (x{with_memo / raw:.2f}, "
              f"hit rate {hit_rate:.0%})")
    path = write_result("engine_overhead", {"goal": "ratio <= 1.3", "results": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
