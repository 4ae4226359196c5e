"""The facts check on realistic and generated facts: jsonschema-rs (the fast path) vs jsonschema.

Both give the same answer on every document (asserted); jsonschema only runs on the hot path
when the answer is no, to explain. Run: python bench/peer_facts_check.py [--n N]
"""

from __future__ import annotations

from common import arg_n, generated_facts, realistic_facts, write_result
from peer_timing import interleaved

from engine.core.schemas import validator
from engine.facts.fast_validator import facts_ok


def main() -> None:
    n = arg_n(3000)
    slow = validator("session-facts").is_valid
    shapes = {"realistic": realistic_facts(n), "generated": generated_facts(n, seed=6)}
    for name, facts in shapes.items():
        assert all(facts_ok(f) is slow(f) for f in facts), name
    checks = (("jsonschema_rs", facts_ok), ("jsonschema", slow))
    contenders = {f"{check}_{name}": (fn, facts if check == "jsonschema_rs" else facts[: max(1, n // 10)])
                  for name, facts in shapes.items() for check, fn in checks}
    rows = interleaved(contenders, 5)
    for name, r in rows.items():
        print(f"{name:26s} {r['median_us']:8.1f} us (min {r['min_us']:6.1f})")
    us = {name: r["median_us"] for name, r in rows.items()}
    ratios = {s: round(us[f"jsonschema_{s}"] / us[f"jsonschema_rs_{s}"], 1) for s in shapes}
    print(f"jsonschema / jsonschema-rs: {ratios}")
    path = write_result("facts_check", {"n": n, "agree": True, "rounds": rows, "ratio_jsonschema": ratios})
    print(f"same answer on {2 * n} documents; wrote {path}")


if __name__ == "__main__":
    main()
