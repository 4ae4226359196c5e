"""Benchmark 2: per-decision cost and compile time as the policy grows (default policy x k).

Copies are renamed and read thresholds shifted by their index, so each copy is a
distinct set of rules. The largest size is the largest the loader accepts (250
rules). Reports the log-log slope (cost ~ rules^exponent) and what dominates.
Run: python bench/scaling.py [--n N]
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from common import arg_n, generated_facts, per_call_us, write_result
from replicate import write_replicated

from engine import Engine, PolicySet
from engine.facts.prepare import prepare_facts
from engine.policy.loader import load_policy
from engine.policy.semantics import MAX_RULES


def _slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    n = arg_n(2000)
    facts = generated_facts(n, seed=4)
    biggest = MAX_RULES // 21
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in sorted({1, 2, 5, 10, biggest}):
            t0 = time.perf_counter()
            policy = load_policy(write_replicated(Path(tmp) / str(k), k))
            t1 = time.perf_counter()
            ps = PolicySet.build([policy], isolate=False, memo_size=0)
            t2 = time.perf_counter()
            engine = Engine(ps)
            compiled = engine.resolve()
            decider = ps.decider(compiled.name)
            projected = [decider.project(prepare_facts(f))[1] for f in facts]
            fired_counts = [len(compiled.fired(p)) for p in projected]
            raw = per_call_us(compiled.fired, projected)
            full = per_call_us(engine.evaluate, facts)
            row = {"copies": k, "rules": len(policy.rules), "shards": compiled.shards,
                   "mean_rules_fired": round(sum(fired_counts) / len(fired_counts), 2),
                   "load_ms": round((t1 - t0) * 1000, 1), "compile_ms": round((t2 - t1) * 1000, 1),
                   "engine_us": round(raw, 1), "evaluate_us": round(full, 1)}
            rows.append(row)
            ps.close()
            print(f"x{k:<3} {row['rules']:4d} rules, {row['shards']:2d} shards, {row['mean_rules_fired']:6.2f} fired: "
                  f"load {row['load_ms']:7.1f} ms, compile {row['compile_ms']:7.1f} ms, engine {raw:8.1f} us, "
                  f"evaluate {full:8.1f} us")
    rules = [r["rules"] for r in rows]
    exps = {key: round(_slope(rules, [r[key] for r in rows]), 2) for key in ("engine_us", "evaluate_us", "compile_ms")}
    fired_exp = round(_slope(rules, [r["mean_rules_fired"] for r in rows]), 2)
    per_fired = [r["engine_us"] / max(r["mean_rules_fired"], 0.01) for r in rows]
    print(f"exponents (cost ~ rules^e): engine {exps['engine_us']}, evaluate {exps['evaluate_us']}, "
          f"compile {exps['compile_ms']}; rules fired ~ rules^{fired_exp}; "
          f"engine us per fired rule: {', '.join(f'{x:.1f}' for x in per_fired)}")
    path = write_result("scaling", {"n": n, "rows": rows, "exponents": exps, "fired_exponent": fired_exp})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
