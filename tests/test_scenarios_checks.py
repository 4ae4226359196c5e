"""Scenario files are checked like policies: every problem at file:line:column, names checked against each version."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.ci.scenarios import load_scenarios
from engine.ci.sources import plan_runs
from engine.cli.main import main
from engine.core.errors import PolicyLoadError
from engine.policy.loader import load_rules

VER = Path(__file__).resolve().parent / "fixtures" / "tools" / "versions"  # ver@1.0.0 and ver@1.1.0
POLICIES = load_rules([VER])
HEAD = "policy: ver\nscenarios:\n"


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problems `attendance-policy test` reports for a scenario file, as printed (the file as `cases.yaml`)."""
    f = tmp_path / "cases.yaml"
    f.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(PolicyLoadError) as e:
        plan_runs(load_scenarios(f), POLICIES)
    return [p.format().replace(str(f), "cases.yaml") for p in e.value.problems]


def scenario(expect: str = "{include: [pause]}", facts: str = "{session: {id: c-1, type: couples}}",
             extra: str = "") -> str:
    return HEAD + f"  - name: one\n{extra}    facts: {facts}\n    expect: {expect}\n"


@pytest.mark.parametrize("expect, error", [
    ("{include: [paus]}", "5:24: unknown_recommendation: unknown recommendation 'paus' in ver@1.1.0; "
                          "did you mean 'pause'? (at $.scenarios[0].expect.include[0])"),
    ("{exclude: [pause, documnt]}", "5:31: unknown_recommendation: unknown recommendation 'documnt' in ver@1.1.0; "
                                    "did you mean 'document'? (at $.scenarios[0].expect.exclude[1])"),
    ("{suppressed: [plann]}", "5:27: unknown_recommendation: unknown recommendation 'plann' in ver@1.1.0; "
                              "did you mean 'plan'? (at $.scenarios[0].expect.suppressed[0])"),
    ("{exact: [xyz]}", "5:22: unknown_recommendation: unknown recommendation 'xyz' in ver@1.1.0 "
                       "(at $.scenarios[0].expect.exact[0])"),
    ("{indicator: {pase: warning}}", "5:26: unknown_recommendation: unknown recommendation 'pase' in ver@1.1.0; "
                                     "did you mean 'pause'? (at $.scenarios[0].expect.indicator.pase)"),
    ("{exclude: [VR-003]}", "5:24: unknown_recommendation: 'VR-003' is a rule of ver@1.1.0, not a recommendation "
                            "(it gives 'document') (at $.scenarios[0].expect.exclude[0])"),
    ("{exclude: [clinical.safety_concern]}", "5:24: unknown_recommendation: 'clinical.safety_concern' is a fact, "
                                             "not a recommendation of ver@1.1.0 (at $.scenarios[0].expect.exclude[0])"),
])
def test_a_misspelt_recommendation_is_an_error_with_did_you_mean(tmp_path, expect, error):
    assert problems(tmp_path, scenario(expect)) == [f"cases.yaml:{error}"]


@pytest.mark.parametrize("versions, error", [
    ('"1.0.0"', "unknown recommendation 'document' in ver@1.0.0 (at $.scenarios[0].expect.exclude[0])"),
    ('">=1.0.0"', "unknown recommendation 'document' in ver@1.0.0 (the scenario also applies to 1.1.0, which has "
                  "it: narrow its `versions:`) (at $.scenarios[0].expect.exclude[0])"),
])
def test_names_are_checked_against_every_version_the_scenario_applies_to(tmp_path, versions, error):
    # `document` is new in 1.1.0: an `exclude` of it would pass on 1.0.0 whatever 1.0.0 decides.
    text = scenario("{exclude: [document]}", extra=f"    versions: {versions}\n")
    assert problems(tmp_path, text) == [f"cases.yaml:6:24: unknown_recommendation: {error}"]


@pytest.mark.parametrize("facts, error", [
    ("{session: {id: c-1, type: couples}, atendance: {partners_present: 1}}",
     "4:48: unknown_fact: unknown fact section 'atendance'; did you mean 'attendance'? (at $.scenarios[0].facts.atendance)"),
    ("{session: {id: c-1, type: couples}, plan: {discharge_in_day: 3}}",
     "4:55: unknown_fact: unknown fact 'plan.discharge_in_day'; did you mean 'plan.discharge_in_days'? "
     "(at $.scenarios[0].facts.plan.discharge_in_day)"),
])
def test_a_misspelt_fact_is_an_error_with_did_you_mean(tmp_path, facts, error):
    assert problems(tmp_path, scenario(facts=facts)) == [f"cases.yaml:{error}"]


def test_a_fact_value_the_schema_refuses_is_left_to_the_run(tmp_path):
    # Only names are checked here; `type: couple` fails the scenario when it runs (test_tools_coverage).
    f = tmp_path / "cases.yaml"
    f.write_text(scenario("{exact: []}", facts="{session: {id: c-1, type: couple}}"), encoding="utf-8")
    [(sc, _)] = plan_runs(load_scenarios(f), POLICIES)
    assert sc.facts == {"session": {"id": "c-1", "type": "couple"}}


def test_an_unknown_policy_is_an_error_with_did_you_mean(tmp_path):
    assert problems(tmp_path, scenario().replace("policy: ver", "policy: vr")) == [
        "cases.yaml:1:1: unknown_policy: unknown policy 'vr' (loaded: ver); did you mean 'ver'? (at $.policy)"]


def test_every_problem_of_a_file_at_once_each_where_it_is_written(tmp_path):
    text = """\
        policy: ver
        version: 1.0.0
        scenarios:
          - name: misspelt keys
            facts: {session: {id: c-1, type: couples}}
            expect: {includes: [pause], indicator: {pause: warnin}}
          - name: wrong types
            versions: 1.0
            facts: {session: {id: c-2, type: couples}}
            expect:
              exclude: pause
              include: [3]
          - just a name
          - name: 5
            nme: x
            expect: []
        """
    assert problems(tmp_path, text) == [
        "cases.yaml:2:1: scenario: unknown key 'version' (expected policy, versions, scenarios); "
        "did you mean 'versions'? (at $.version)",
        "cases.yaml:6:14: scenario: unknown key 'includes' (expected include, exclude, suppressed, exact, indicator); "
        "did you mean 'include'? (at $.scenarios[0].expect.includes)",
        "cases.yaml:6:45: scenario: indicator 'warnin' is not one of info, warning, critical; did you mean 'warning'? "
        "(at $.scenarios[0].expect.indicator.pause)",
        "cases.yaml:8:5: invalid_versions: 1.0 is not a version (1.0.0), a comparison ('>=1.1.0'), a range "
        "('>=1.0.0,<2.0.0') or a list of versions (at $.scenarios[1].versions)",
        "cases.yaml:11:7: scenario: `exclude` must be a list of recommendation ids (at $.scenarios[1].expect.exclude)",
        "cases.yaml:12:17: scenario: 3 is not a recommendation id (at $.scenarios[1].expect.include[0])",
        "cases.yaml:13:5: scenario: a scenario must be a mapping (at $.scenarios[2])",
        "cases.yaml:14:5: scenario: a scenario needs `facts` (at $.scenarios[3])",
        "cases.yaml:14:5: scenario: `name` must be a string (at $.scenarios[3].name)",
        "cases.yaml:15:5: scenario: unknown key 'nme' (expected name, facts, expect, versions, policy); "
        "did you mean 'name'? (at $.scenarios[3].nme)",
        "cases.yaml:16:5: scenario: `expect` must be a mapping (at $.scenarios[3].expect)",
    ]


@pytest.mark.parametrize("text, error", [
    ("scenarios: {}\n", "1:1: scenario: expected a top-level `scenarios:` list (at $.scenarios)"),
    ("- a list\n", "1:1: scenario: expected a top-level `scenarios:` list (at $)"),
])
def test_file_level_errors_have_a_position(tmp_path, text, error):
    f = tmp_path / "cases.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyLoadError) as e:
        load_scenarios(f)
    assert [p.format().replace(str(f), "cases.yaml") for p in e.value.problems] == [f"cases.yaml:{error}"]


@pytest.mark.parametrize("text, where", [
    ("scenarios:\n  - name: x\n    facts: {a: [}\n", ("yaml_syntax", 3, 17)),
    ("scenarios: []\nscenarios: []\n", ("duplicate_key", 2, 1)),
    (b"scenarios:\n  - [\xff]\n", ("encoding", 2, 1)),
])
def test_yaml_errors_in_a_scenario_file_have_a_position(tmp_path, text, where):
    # The wording is engine.policy.yaml_source's, the same as for a policy file.
    f = tmp_path / "cases.yaml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(PolicyLoadError) as e:
        load_scenarios(f)
    assert [(p.code, p.file, p.line, p.column) for p in e.value.problems] == [(where[0], str(f), *where[1:])]


def test_a_misspelt_id_fails_the_command_instead_of_passing(capsys, tmp_path):
    # Before these checks `exclude: [documnt]` passed whatever the decision was.
    f = tmp_path / "cases.yaml"
    f.write_text(scenario("{exclude: [documnt]}"), encoding="utf-8")
    code = main(["test", str(f), "--rules", str(VER)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{f}:5:24: unknown_recommendation: unknown recommendation 'documnt' in ver@1.1.0; did you mean 'document'? "
        "(at $.scenarios[0].expect.exclude[0])",
        "1 error occurred"]
