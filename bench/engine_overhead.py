"""Benchmark 1: evaluate() per decision vs the raw durable_rules cycle on the same compiled ruleset.

Raw cycle = what a hand-written durable_rules integration must do at least:
serialise the facts, assert them, collect the fired rules, delete the state.
evaluate() adds schema validation, defaults, projection, precedence,
suppression, rationale and the decision object; with the memo on, repeated
projections skip the engine. Run: python bench/engine_overhead.py [--n N]
"""

from __future__ import annotations

from common import ROOT, arg_n, generated_facts, per_call_us, realistic_facts, write_result

from engine import Engine, PolicySet, load_rules
from engine.facts.prepare import prepare_facts


def measure(policies: list, facts: list[dict]) -> dict[str, float]:
    plain = Engine(PolicySet.build(policies, isolate=False, memo_size=0))
    memo = Engine(PolicySet.build(policies, isolate=False))
    compiled = plain.resolve()
    decider = plain.policies.decider(compiled.name)
    prepared = [prepare_facts(f) for f in facts]
    projected = [decider.project(p)[1] for p in prepared]
    raw = per_call_us(compiled.fired, projected)
    raw_whole = per_call_us(compiled.fired, prepared)
    no_memo = per_call_us(plain.evaluate, facts)
    with_dict = per_call_us(lambda f: plain.evaluate(f).to_dict(), facts)
    with_memo = per_call_us(memo.evaluate, facts, repeat=1)
    d = memo.policies.decider(compiled.name)
    return {"n": len(facts), "raw_us": round(raw, 1), "raw_whole_facts_us": round(raw_whole, 1),
            "evaluate_us": round(no_memo, 1), "evaluate_to_dict_us": round(with_dict, 1),
            "evaluate_memo_us": round(with_memo, 1), "ratio": round(no_memo / raw, 2),
            "ratio_whole_facts": round(no_memo / raw_whole, 2), "ratio_memo": round(with_memo / raw, 2),
            "memo_hit_rate": round(d.hits / max(1, d.hits + d.misses), 3)}


def main() -> None:
    n = arg_n(10_000)
    policies = load_rules([ROOT / "rules"])
    rows = {}
    for label, facts in (("generated", generated_facts(n)), ("realistic", realistic_facts(n))):
        r = rows[label] = measure(policies, facts)
        print(f"{label:10s} n={n}: raw {r['raw_us']:6.1f} us (whole facts {r['raw_whole_facts_us']:6.1f}) | "
              f"evaluate {r['evaluate_us']:6.1f} us (x{r['ratio']:.2f}; x{r['ratio_whole_facts']:.2f} vs whole "
              f"facts) | +to_dict {r['evaluate_to_dict_us']:6.1f} us | memo on {r['evaluate_memo_us']:6.1f} us "
              f"(x{r['ratio_memo']:.2f}, hit rate {r['memo_hit_rate']:.0%})")
    path = write_result("engine_overhead", {"goal": "ratio <= 1.3", "results": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
