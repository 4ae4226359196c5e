"""`versions:` in scenario files: which versions a scenario runs on, and coverage per version over those scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.ci.scenarios import load_scenarios
from engine.ci.sources import plan_runs
from engine.ci.versions import parse_versions
from engine.cli.main import main
from engine.core.errors import PolicyLoadError
from engine.policy.loader import load_rules

VER = Path(__file__).resolve().parent / "fixtures" / "tools" / "versions"  # ver@1.0.0 and ver@1.1.0 (see 1.0.0.yaml)
CASES = VER / "ver" / "tests"
POLICIES = load_rules([VER])
LOADED = ["1.0.0", "1.1.0", "1.2.3", "2.0.0"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("raw, matching", [
    ("1.1.0", ["1.1.0"]),
    (" 1.1.0 ", ["1.1.0"]),
    (">=1.1.0", ["1.1.0", "1.2.3", "2.0.0"]),
    (">1.1.0", ["1.2.3", "2.0.0"]),
    ("<1.1.0", ["1.0.0"]),
    ("<=1.1.0", ["1.0.0", "1.1.0"]),
    ("!=1.1.0", ["1.0.0", "1.2.3", "2.0.0"]),
    ("==1.2.3", ["1.2.3"]),
    ("~=1.1", ["1.1.0", "1.2.3"]),
    (">=1.0.0,<2.0.0", ["1.0.0", "1.1.0", "1.2.3"]),
    (">= 1.1.0, < 2", ["1.1.0", "1.2.3"]),
    (["1.0.0", "2.0.0"], ["1.0.0", "2.0.0"]),
    (["1.0.0", ">=1.2.0"], ["1.0.0", "1.2.3", "2.0.0"]),
])
def test_versions_a_scenario_applies_to(raw, matching):
    versions, problems = parse_versions(raw, ("versions",))
    assert problems == []
    assert [v for v in LOADED if versions.matches(v)] == matching


FORMS = "a version (1.0.0), a comparison ('>=1.1.0'), a range ('>=1.0.0,<2.0.0') or a list of versions"


@pytest.mark.parametrize("raw, problems", [
    ("1.0", [(f"'1.0' is not {FORMS}", ("versions",))]),
    (1.0, [(f"1.0 is not {FORMS}", ("versions",))]),
    ("", [(f"'' is not {FORMS}", ("versions",))]),
    ("latest", [(f"'latest' is not {FORMS}", ("versions",))]),
    (">=1.x", [(f"'>=1.x' is not {FORMS}", ("versions",))]),
    ("1.0.0,1.1.0", [(f"'1.0.0,1.1.0' is not {FORMS}", ("versions",))]),
    (["1.0.0", None], [(f"None is not {FORMS}", ("versions", 1))]),
    ([], [(f"`versions` is an empty list; write {FORMS}", ("versions",))]),
])
def test_versions_that_are_not_versions(raw, problems):
    assert parse_versions(raw, ("versions",))[1] == problems


def planned(path: Path) -> list[tuple[str, str]]:
    return [(sc.name, p.version) for sc, p in plan_runs(load_scenarios(path), POLICIES)]


def test_a_scenario_without_versions_runs_on_the_newest_version_only():
    assert planned(CASES / "discharge.yaml") == [
        ("discharge in 18 days is planned", "1.1.0"),
        ("discharge in 18 days is not planned yet under 1.0.0", "1.0.0"),
        ("discharge in 10 days is planned by every version", "1.0.0"),
        ("discharge in 10 days is planned by every version", "1.1.0"),
        ("an absence is documented", "1.1.0"),
    ]


def test_versions_at_the_top_of_a_file_apply_to_each_scenario_that_has_none(tmp_path):
    f = tmp_path / "cases.yaml"
    f.write_text("policy: ver\nversions: '1.0.0'\nscenarios:\n"
                 "  - {name: inherits, facts: {session: {id: v-1, type: couples}}, expect: {}}\n"
                 "  - {name: its own, versions: '>=1.1.0', facts: {session: {id: v-2, type: couples}}, expect: {}}\n",
                 encoding="utf-8")
    assert planned(f) == [("inherits", "1.0.0"), ("its own", "1.1.0")]
    assert planned(CASES / "shared.yaml") == [("a safety concern pauses", "1.0.0"), ("a safety concern pauses", "1.1.0"),
                                              ("an individual session gives nothing", "1.0.0"),
                                              ("an individual session gives nothing", "1.1.0")]


@pytest.mark.parametrize("versions, error", [
    ('"2.0.0"', "'2.0.0' matches no loaded version of ver (loaded: 1.0.0, 1.1.0) (at $.scenarios[0].versions)"),
    ('"1.0.1"', "'1.0.1' matches no loaded version of ver (loaded: 1.0.0, 1.1.0) (at $.scenarios[0].versions)"),
    ('">=1.2.0,<2"', "'>=1.2.0,<2' matches no loaded version of ver (loaded: 1.0.0, 1.1.0) (at $.scenarios[0].versions)"),
    ('[1.0.0, "<1.0.0"]', "'<1.0.0' matches no loaded version of ver (loaded: 1.0.0, 1.1.0) "
                          "(at $.scenarios[0].versions[1])"),
])
def test_versions_matching_no_loaded_version_are_an_error(tmp_path, versions, error):
    f = tmp_path / "cases.yaml"
    f.write_text(f"policy: ver\nscenarios:\n  - name: x\n    versions: {versions}\n"
                 "    facts: {session: {id: v-1, type: couples}}\n    expect: {}\n", encoding="utf-8")
    with pytest.raises(PolicyLoadError) as e:
        plan_runs(load_scenarios(f), POLICIES)
    col = 23 if versions.startswith("[") else 5
    assert [p.format() for p in e.value.problems] == [f"{f}:4:{col}: unknown_policy_version: {error}"]


def test_each_version_keeps_its_own_scenarios_and_coverage(capsys):
    # 1.1.0 raised the discharge threshold from 14 to 21 days: the 1.0.0 scenario about 18 days stays and
    # runs on 1.0.0 only, and both versions are gated at 100% over the scenarios that apply to each.
    code, out, _ = run(capsys, "test", VER, "--min-coverage", "100", "--min-leaf-coverage", "100")
    assert code == 0
    assert out.splitlines() == [
        f"{CASES / 'discharge.yaml'} .....",
        f"{CASES / 'shared.yaml'} ....",
        " coverage ".center(72, "-"),
        "ver@1.0.0: rules 2/2 (100.0%), condition leaves 2/2 (100.0%), 4 scenarios",
        "ver@1.1.0: rules 3/3 (100.0%), condition leaves 4/4 (100.0%), 5 scenarios",
        "9 passed, 0 failed",
    ]


def test_verbose_names_the_version_of_a_scenario_that_runs_on_several(capsys):
    _, out, _ = run(capsys, "test", CASES / "discharge.yaml", "-v")
    assert out.splitlines()[1:4] == [
        f"{CASES / 'discharge.yaml'}::discharge in 18 days is not planned yet under 1.0.0 PASSED",
        f"{CASES / 'discharge.yaml'}::discharge in 10 days is planned by every version[ver@1.0.0] PASSED",
        f"{CASES / 'discharge.yaml'}::discharge in 10 days is planned by every version[ver@1.1.0] PASSED",
    ]


def test_coverage_is_enforced_per_version_over_the_scenarios_that_apply_to_it(capsys, tmp_path):
    # Only the discharge scenarios: 1.0.0 gets two of them (VR-002 fires, VR-001 never does).
    code, out, _ = run(capsys, "test", CASES / "discharge.yaml", "--min-coverage", "100", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert [(c["policy"], c["scenarios"], c["rules"]["percent"]) for c in data["coverage"]] == [
        ("ver@1.0.0", 2, 50.0), ("ver@1.1.0", 3, 66.7)]
    assert data["coverage_shortfalls"] == ["ver@1.0.0: rule coverage 50.0% is below the required 100%",
                                           "ver@1.1.0: rule coverage 66.7% is below the required 100%"]
    assert [(r["name"], r["policy"]) for r in data["results"]][2:4] == [
        ("discharge in 10 days is planned by every version", "ver@1.0.0"),
        ("discharge in 10 days is planned by every version", "ver@1.1.0")]


def test_a_version_no_scenario_applies_to_is_reported_not_tested_and_not_gated(capsys, tmp_path):
    f = tmp_path / "cases.yaml"
    f.write_text("policy: ver\nscenarios:\n  - name: safety\n    facts: {session: {id: v-1, type: couples}, "
                 "clinical: {safety_concern: true}}\n    expect: {include: [pause]}\n", encoding="utf-8")
    code, out, _ = run(capsys, "test", f, "--rules", VER, "--min-coverage", "30")
    assert code == 0
    assert out.splitlines()[2:4] == [
        "ver@1.0.0: not tested (no scenario applies to it: name it in a scenario's `versions:`)",
        "ver@1.1.0: rules 1/3 (33.3%), condition leaves 0/4 (0.0%), 1 scenarios",
    ]


def test_a_file_level_versions_matching_nothing_is_reported_once(tmp_path):
    f = tmp_path / "cases.yaml"
    f.write_text("policy: ver\nversions: '>=2.0.0'\nscenarios:\n"
                 "  - {name: one, facts: {session: {id: v-1, type: couples}}, expect: {}}\n"
                 "  - {name: two, facts: {session: {id: v-2, type: couples}}, expect: {}}\n", encoding="utf-8")
    with pytest.raises(PolicyLoadError) as e:
        plan_runs(load_scenarios(f), POLICIES)
    assert [p.format() for p in e.value.problems] == [
        f"{f}:2:1: unknown_policy_version: '>=2.0.0' matches no loaded version of ver (loaded: 1.0.0, 1.1.0) "
        "(at $.versions)"]
