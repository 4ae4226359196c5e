"""Benchmark 8: what the gate costs for the largest policy versions the loader accepts (goal: under 2 s each).

Each shape sits at the loader's caps (engine/policy/semantics.py, engine/policy/paths.py):
many rules of one path, the most paths per rule, the widest paths. Every rule can fire
(the gate refuses an unreachable one), so each is a version the service would serve.
Phases, in-process, median of R runs: load (YAML, schema, semantics), compile in a
child process (the C5 guard), compile here, lint. The baseline is the bundled policy
through the same phases in the same run. Run: python bench/gate_cost.py [--repeat R]
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import yaml
from common import ROOT, write_result

from engine.analysis.lint import lint_policy
from engine.compile.ruleset import CompiledPolicy, check_compiles
from engine.policy.loader import load_policy_text
from engine.policy.paths import MAX_PATHS_PER_RULE
from engine.policy.semantics import MAX_LEAVES_PER_RULE, MAX_PATHS_PER_POLICY, MAX_RULES, MAX_TERMS_PER_POLICY
from engine.policy.yaml_source import MAX_FILE_BYTES

GOAL_S = 2.0
LIST_MAX = 60  # the schema allows 64 items per list: longer conjunctions are nested


def _rule(i: int, paths: int, extra: int) -> dict[str, Any]:
    """`paths` alternatives (distinct counts of missed sessions), each with `extra` more comparisons."""
    alts = [{"fact": "history.consecutive_joint_sessions_missed", "op": "eq", "value": (i * paths + j) % 1000}
            for j in range(paths)]
    more = [{"fact": "plan.discharge_in_days", "op": "gte", "value": k} for k in range(extra)]
    items: list[Any] = [{"fact": "session.type", "op": "eq", "value": "couples"}]
    items.append({"any": alts} if paths > 1 else alts[0])
    items += [{"all": more[k:k + LIST_MAX]} for k in range(0, len(more), LIST_MAX)]
    return {"id": f"B-{i:03d}", "title": f"rule {i}", "priority": i + 1, "when": {"all": items},
            "then": f"rec_{i}", "rationale": "Generated for the benchmark.", "source": "FAQ 1"}


def policy_text(rules: int, paths: int, extra: int) -> str:
    recs = {f"rec_{i}": {"title": f"R{i}", "indicator": "info", "category": "attendance", "text": "t"}
            for i in range(rules)}
    doc = {"policy": "big", "version": "1.0.0", "effective_from": "2026-01-01", "title": "Largest accepted",
           "owner": "bench", "changelog": [{"version": "1.0.0", "changes": "benchmark"}],
           "recommendations": recs, "rules": [_rule(i, paths, extra) for i in range(rules)]}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=200)


def shapes() -> dict[str, tuple[int, int, int]]:
    """(rules, paths per rule, extra comparisons per path) at the caps."""
    def extra(rules: int, paths: int) -> int:  # the most comparisons each path may add within every cap
        per_rule = MAX_LEAVES_PER_RULE - 1 - paths
        per_policy = MAX_TERMS_PER_POLICY // (rules * paths) - 2
        return max(0, min(per_rule, per_policy))

    most_paths = min(MAX_PATHS_PER_POLICY // MAX_PATHS_PER_RULE, MAX_TERMS_PER_POLICY // (2 * MAX_PATHS_PER_RULE))
    return {
        "most rules, 1 path each": (min(MAX_RULES, MAX_TERMS_PER_POLICY // 2), 1,
                                    extra(min(MAX_RULES, MAX_TERMS_PER_POLICY // 2), 1)),
        f"most paths, {MAX_PATHS_PER_RULE} per rule": (most_paths, MAX_PATHS_PER_RULE,
                                                       extra(most_paths, MAX_PATHS_PER_RULE)),
        "widest paths": (min(MAX_RULES, max(1, MAX_TERMS_PER_POLICY // MAX_LEAVES_PER_RULE)), 1,
                         MAX_LEAVES_PER_RULE - 2),
    }


def phases(text: str, name: str, repeat: int) -> dict[str, float]:
    runs: dict[str, list[float]] = {"load": [], "compile_child": [], "compile": [], "lint": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        policy = load_policy_text(text, f"{name}/1.0.0.yaml", expected_version="1.0.0")
        t1 = time.perf_counter()
        check_compiles(policy)
        t2 = time.perf_counter()
        compiled = CompiledPolicy(policy)
        t3 = time.perf_counter()
        findings, _ = lint_policy(policy, compiled)
        t4 = time.perf_counter()
        compiled.close()
        assert not [f for f in findings if f.severity == "error"], [f.format() for f in findings][:3]
        for key, value in zip(runs, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            runs[key].append(value)
    out = {k: statistics.median(v) for k, v in runs.items()}
    out["total"] = sum(out.values())
    return out


def main() -> None:
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    smoke = "--smoke" in sys.argv
    default = (ROOT / "rules" / "couples-attendance" / "1.0.0.yaml").read_text(encoding="utf-8")
    rows = {"bundled policy (baseline)": phases(default, "couples-attendance", repeat)}
    for label, (rules, paths, extra) in shapes().items():
        if smoke:  # the test suite only checks that the script runs: a tenth of each shape
            rules = max(1, rules // 10)
        text = policy_text(rules, paths, extra)
        while len(text.encode()) > MAX_FILE_BYTES:  # the file-size cap binds first: the most rules that fit
            rules -= 1
            text = policy_text(rules, paths, extra)
        rows[f"{label} ({rules} rules)"] = phases(text, "big", repeat)
    base = rows["bundled policy (baseline)"]["total"]
    print(f"{'version':44} {'load':>7} {'child':>7} {'compile':>8} {'lint':>7} {'total':>7} {'x base':>7}")
    for label, r in rows.items():
        print(f"{label:44} {r['load']:7.2f} {r['compile_child']:7.2f} {r['compile']:8.2f} {r['lint']:7.2f} "
              f"{r['total']:7.2f} {r['total'] / base:7.1f}")
    worst = max(r["total"] for label, r in rows.items() if label != "bundled policy (baseline)")
    print(f"largest accepted version: {worst:.2f} s through the gate (goal < {GOAL_S:g} s: "
          f"{'met' if worst < GOAL_S else 'NOT met'})")
    write_result("gate_cost", {"repeat": repeat, "smoke": smoke, "goal_s": GOAL_S, "worst_s": worst,
                               "rows": rows, "caps": {"rules": MAX_RULES, "paths_per_rule": MAX_PATHS_PER_RULE,
                                                      "paths_per_policy": MAX_PATHS_PER_POLICY,
                                                      "leaves_per_rule": MAX_LEAVES_PER_RULE,
                                                      "terms_per_policy": MAX_TERMS_PER_POLICY}})


if __name__ == "__main__":
    main()
