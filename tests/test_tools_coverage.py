"""`attendance-policy test`: scenarios with pytest-style output, and coverage computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.ci.runner import expected_actual, run_all
from engine.ci.scenarios import load_scenarios, scenario_files
from engine.ci.sources import plan_runs
from engine.cli.main import main
from engine.policy.loader import load_rules
from engine.runtime.registry import PolicySet

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(__file__).resolve().parent / "fixtures" / "tools"
COV = TOOLS / "coverage"
COV_POLICY = COV / "cov" / "1.0.0.yaml"
COV_CASES = COV / "cov" / "tests" / "cases.yaml"
FAILING = TOOLS / "scenarios" / "failing.yaml"
BUNDLED = [sc for f in scenario_files([ROOT / "rules"]) for sc in load_scenarios(f)]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def measured(rules: Path, scenario_paths: list[Path]):
    policies = load_rules([rules])
    compiled = PolicySet.build(policies, isolate=False)
    scenarios = [sc for f in scenario_files(scenario_paths) for sc in load_scenarios(f)]
    try:
        return run_all(policies, compiled, plan_runs(scenarios, policies))
    finally:
        compiled.close()


def test_coverage_of_the_small_policy_matches_the_hand_count():
    # 3 rules, 2 fired (CV-001 by the safety scenario, CV-002 by the absence scenario): 2/3.
    # 5 leaves: safety (false, then true); couples (true, then false); present < expected (true, then
    # false); CV-003's couples (true, then false); discharge <= 14 (false twice, never true): 4/5.
    cov = measured(COV, [COV]).coverage["cov@1.0.0"]
    assert (cov.rules_covered, cov.rules_total, round(cov.rule_pct, 1)) == (2, 3, 66.7)
    assert (cov.leaves_covered, cov.leaves_total, cov.leaf_pct) == (4, 5, 80.0)
    assert cov.never_fired() == [("CV-003", 36)]
    assert [(ref.describe(), missing) for ref, missing in cov.half_seen()] == [
        ("CV-003 `plan.discharge_in_days ≤ 14`", "never true")]


def test_coverage_text(capsys):
    code, out, _ = run(capsys, "test", COV, "--coverage")
    assert code == 0
    assert out.splitlines() == [
        f"{COV_CASES} ..",
        " coverage ".center(72, "-"),
        "cov@1.0.0: rules 2/3 (66.7%), condition leaves 4/5 (80.0%), 2 scenarios",
        f"  never fired: CV-003 ({COV_POLICY}:36)",
        f"  never true: CV-003 `plan.discharge_in_days ≤ 14` ({COV_POLICY}:42)",
        "2 passed, 0 failed",
    ]


@pytest.mark.parametrize("options, code, shortfall", [
    (("--min-coverage", "66"), 0, None),
    (("--min-coverage", "66.6"), 0, None),
    (("--min-coverage", "67"), 1, "cov@1.0.0: rule coverage 66.7% is below the required 67%"),
    (("--min-leaf-coverage", "80"), 0, None),
    (("--min-leaf-coverage", "80.5"), 1, "cov@1.0.0: condition leaf coverage 80.0% is below the required 80.5%"),
])
def test_min_coverage(capsys, options, code, shortfall):
    got, out, _ = run(capsys, "test", COV, *options)
    lines = out.splitlines()
    assert got == code
    assert lines[-1] == "2 passed, 0 failed"
    assert shortfall is None or lines[-2] == shortfall
    assert shortfall is not None or "below the required" not in out


def test_failures_are_shown_with_a_diff_of_expected_and_actual(capsys):
    code, out, _ = run(capsys, "test", FAILING, "--rules", COV)
    assert code == 1
    assert out.splitlines() == [
        f"{FAILING} .FF",
        " FAILURES ".center(72, "="),
        " wrong expectations about a safety concern ".center(72, "_"),
        f"{FAILING}:10 (cov@1.0.0)",
        "E   expected recommendation 'plan' is missing",
        "E   unexpected recommendation 'document' (from rule CV-002)",
        "E   indicator of 'pause': expected 'critical', got 'warning'",
        "    --- expected",
        "    +++ actual",
        "    @@ -1,5 +1,5 @@",
        "     recommendations:",
        "       - pause",
        "    -  - plan",
        "    +  - document",
        "     suppressed:",
        "    -indicator of pause: critical",
        "    +indicator of pause: warning",
        " invalid facts fail the scenario ".center(72, "_"),
        f"{FAILING}:19 (cov@1.0.0)",
        "E   evaluation failed: invalid_facts: invalid facts: session.type: 'couple' is not one of: couples, "
        "individual, group, family, education; did you mean 'couples'?",
        "1 passed, 2 failed",
    ]


def test_verbose_lists_every_scenario(capsys):
    _, out, _ = run(capsys, "test", FAILING, "--rules", COV, "-v")
    assert out.splitlines()[:3] == [f"{FAILING}::an absence is documented PASSED",
                                    f"{FAILING}::wrong expectations about a safety concern FAILED",
                                    f"{FAILING}::invalid facts fail the scenario FAILED"]


def test_json(capsys):
    code, out, _ = run(capsys, "test", FAILING, "--rules", COV, "--format", "json", "--min-coverage", "100")
    data = json.loads(out)
    assert code == 1
    assert data["summary"]["passed"] == 1 and data["summary"]["failed"] == 2
    second = data["results"][1]
    assert (second["name"], second["line"], second["policy"], second["passed"]) == (
        "wrong expectations about a safety concern", 10, "cov@1.0.0", False)
    assert second["actual"] == {"recommendations": ["pause", "document"], "suppressed": [],
                                "indicators": {"pause": "warning", "document": "warning"}}
    assert "-  - plan" in second["diff"]
    [cov] = data["coverage"]
    assert cov["rules"] == {"covered": 2, "total": 3, "percent": 66.7,
                            "never_fired": [{"rule": "CV-003", "line": 36}]}
    assert data["coverage_shortfalls"] == ["cov@1.0.0: rule coverage 66.7% is below the required 100%"]


def test_the_bundled_policy_is_fully_covered(capsys):
    code, out, _ = run(capsys, "test", ROOT / "rules", "--min-coverage", "100", "--min-leaf-coverage", "100")
    assert code == 0
    assert out.splitlines()[-1] == f"{len(BUNDLED)} passed, 0 failed"
    run_ = measured(ROOT / "rules", [ROOT / "rules"])
    cov = run_.coverage["couples-attendance@1.0.0"]
    assert (cov.rule_pct, cov.leaf_pct, cov.rules_total) == (100.0, 100.0, 21)


@pytest.mark.parametrize("expect, got, expected_lines, actual_lines", [
    ({"exact": ["a", "b"]}, ["b"], ["  - a", "  - b"], ["  - b"]),
    ({"include": ["a"], "exclude": ["c"]}, ["b", "c"], ["  - b", "  - a"], ["  - b", "  - c"]),
    ({"include": ["b"]}, ["b"], ["  - b"], ["  - b"]),
])
def test_expected_rendering_differs_only_where_the_expectation_fails(expect, got, expected_lines, actual_lines):
    from types import SimpleNamespace

    from engine.ci.scenarios import ScenarioResult

    decision = SimpleNamespace(recommendations=[SimpleNamespace(id=r, indicator="info") for r in got], suppressed=[])
    result = ScenarioResult(SimpleNamespace(expect=expect), decision=decision)  # type: ignore[arg-type]
    exp, act = expected_actual(result)
    assert exp == ["recommendations:", *expected_lines, "suppressed:"]
    assert act == ["recommendations:", *actual_lines, "suppressed:"]


def test_no_scenarios_is_an_error(capsys, tmp_path):
    code, _, err = run(capsys, "test", tmp_path)
    assert code == 2
    assert err == f"no scenarios found under {tmp_path}\n"
