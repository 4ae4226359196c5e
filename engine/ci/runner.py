"""Run scenario files against the policy versions they test, and report like pytest does."""

from __future__ import annotations

import difflib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.ci.coverage import Coverage, measure
from engine.ci.scenarios import Scenario, ScenarioResult, run_on
from engine.policy.model import Policy
from engine.runtime.registry import PolicySet

__all__ = ["TestRun", "run_all", "expected_actual", "coverage_shortfalls"]


@dataclass
class TestRun:
    results: list[ScenarioResult]
    coverage: dict[str, Coverage]
    seconds: float

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def closing_line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def run_all(policies: Sequence[Policy], compiled: PolicySet, runs: Sequence[tuple[Scenario, Policy]]) -> TestRun:
    """Run each scenario on each version it applies to (engine.ci.sources.plan_runs) and measure coverage."""
    start = time.perf_counter()
    results = [run_on(compiled.compiled[policy.key], sc) for sc, policy in runs]
    return TestRun(results, measure(policies, results), time.perf_counter() - start)


def _actual(result: ScenarioResult) -> dict[str, Any]:
    d = result.decision
    if d is None:
        return {"recommendations": [], "suppressed": [], "indicators": {}}
    return {"recommendations": [r.id for r in d.recommendations],
            "suppressed": [s.id for s in d.suppressed],
            "indicators": {r.id: r.indicator for r in d.recommendations}}


def expected_actual(result: ScenarioResult) -> tuple[list[str], list[str]]:
    """Two renderings that differ exactly where the decision misses the expectation (for a diff)."""
    expect, actual = result.scenario.expect, _actual(result)
    got, sup = actual["recommendations"], actual["suppressed"]
    if "exact" in expect:
        want = list(expect["exact"])
    else:
        excluded = set(expect.get("exclude") or ())
        want = [r for r in got if r not in excluded] + [r for r in expect.get("include") or () if r not in got]
    want_sup = sup + [r for r in expect.get("suppressed") or () if r not in sup]
    exp_lines = ["recommendations:"] + [f"  - {r}" for r in want] + ["suppressed:"] + [f"  - {r}" for r in want_sup]
    act_lines = ["recommendations:"] + [f"  - {r}" for r in got] + ["suppressed:"] + [f"  - {r}" for r in sup]
    for rid, level in (expect.get("indicator") or {}).items():
        exp_lines.append(f"indicator of {rid}: {level}")
        act_lines.append(f"indicator of {rid}: {actual['indicators'].get(rid, 'not given')}")
    return exp_lines, act_lines


def unified(result: ScenarioResult) -> list[str]:
    exp, act = expected_actual(result)
    return list(difflib.unified_diff(exp, act, "expected", "actual", lineterm="", n=max(len(exp), len(act))))


def coverage_shortfalls(run: TestRun, min_rules: float | None, min_leaves: float | None) -> list[str]:
    """One line per version whose coverage is below a required minimum."""
    out = []
    for key, cov in run.coverage.items():
        if not cov.required:
            continue
        if min_rules is not None and cov.rule_pct + 1e-9 < min_rules:
            out.append(f"{key}: rule coverage {cov.rule_pct:.1f}% is below the required {min_rules:g}%")
        if min_leaves is not None and cov.leaf_pct + 1e-9 < min_leaves:
            out.append(f"{key}: condition leaf coverage {cov.leaf_pct:.1f}% is below the required {min_leaves:g}%")
    return out


def _result_dict(r: ScenarioResult) -> dict[str, Any]:
    sc = r.scenario
    return {"name": sc.name, "file": sc.file, "line": sc.line, "policy": r.policy_key, "passed": r.passed,
            "failures": r.failures, "actual": _actual(r) if r.decision is not None else None,
            "diff": unified(r) if not r.passed and r.decision is not None else []}


def to_dict(run: TestRun, *, coverage: bool, shortfalls: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"results": [_result_dict(r) for r in run.results],
                           "summary": {"passed": run.passed, "failed": run.failed,
                                       "seconds": round(run.seconds, 3)}}
    if coverage:
        out["coverage"] = [c.to_dict() for c in run.coverage.values()]
        out["coverage_shortfalls"] = shortfalls
    return out


def render_text(run: TestRun, *, coverage: bool, shortfalls: list[str], verbose: bool = False) -> str:
    """pytest-style: one line of dots per file, the failures with a diff, coverage, `N passed, N failed`."""
    out: list[str] = []
    by_file: dict[str, list[ScenarioResult]] = {}
    for r in run.results:
        by_file.setdefault(r.scenario.file, []).append(r)
    label = _labeller(run.results)
    for file, results in by_file.items():
        if verbose:
            out += [f"{file}::{label(r)} {'PASSED' if r.passed else 'FAILED'}" for r in results]
        else:
            out.append(f"{file} {''.join('.' if r.passed else 'F' for r in results)}")
    failures = [r for r in run.results if not r.passed]
    if failures:
        out.append(" FAILURES ".center(72, "="))
        for r in failures:
            out += _failure(r, label(r))
    if coverage:
        out += _coverage_lines(run)
    out += shortfalls
    out.append(run.closing_line())
    return "\n".join(out)


def _labeller(results: list[ScenarioResult]) -> Callable[[ScenarioResult], str]:
    """A scenario's name, with `[<policy>@<version>]` when it runs on several versions (as pytest names params)."""
    runs = Counter(id(r.scenario) for r in results)

    def label(r: ScenarioResult) -> str:
        return f"{r.scenario.name}[{r.policy_key}]" if runs[id(r.scenario)] > 1 else r.scenario.name
    return label


def _failure(r: ScenarioResult, label: str) -> list[str]:
    sc = r.scenario
    out = [f" {label} ".center(72, "_"), f"{sc.where} ({r.policy_key or 'no policy version'})"]
    out += [f"E   {f}" for f in r.failures]
    return out + ([f"    {line}" for line in unified(r)] if r.decision is not None else [])


def _coverage_lines(run: TestRun) -> list[str]:
    out = [" coverage ".center(72, "-")]
    for key, cov in run.coverage.items():
        if not cov.required:
            out.append(f"{key}: not tested (no scenario applies to it: name it in a scenario's `versions:`)")
            continue
        out.append(f"{key}: rules {cov.rules_covered}/{cov.rules_total} ({cov.rule_pct:.1f}%), condition leaves "
                   f"{cov.leaves_covered}/{cov.leaves_total} ({cov.leaf_pct:.1f}%), {cov.scenarios} scenarios")
        for rule, line in cov.never_fired():
            out.append(f"  never fired: {rule} ({cov.policy.file}:{line})")
        for ref, missing in cov.half_seen():
            out.append(f"  {missing}: {ref.describe()} ({cov.policy.file}:{ref.leaf.line})")
    return out
