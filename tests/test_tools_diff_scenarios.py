"""`diff` chooses its scenario cases as `test` runs them: `versions:` honoured, every name checked (did you mean)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main

PAIR = Path(__file__).resolve().parent / "fixtures" / "tools" / "diff" / "pair"


def _rules(tmp_path: Path, scenarios: str) -> Path:
    folder = tmp_path / "pair"
    (folder / "tests").mkdir(parents=True)
    for month, version in enumerate(("1.0.0", "1.1.0", "1.2.0"), 1):  # the gate wants later versions later
        text = (PAIR / f"{version}.yaml").read_text(encoding="utf-8")
        (folder / f"{version}.yaml").write_text(text.replace('effective_from: "2026-01-01"',
                                                             f'effective_from: "2026-0{month}-01"'), encoding="utf-8")
    (folder / "tests" / "cases.yaml").write_text(scenarios, encoding="utf-8")
    return tmp_path


def _scenario(name: str, versions: str | None = None, expect: str = "{}", facts: str = "{}") -> str:
    head = f"  - name: {name}\n" + (f"    versions: {versions}\n" if versions else "")
    return head + (f"    facts:\n      session: {{id: {name}, type: couples}}\n      plan: {facts}\n"
                   f"    expect: {expect}\n")


def _diff(capsys, rules: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["diff", "pair@1.0.0", "pair@1.1.0", "--rules", str(rules), "--format", "json", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


# (versions: as written, whether the scenario is a case of the 1.0.0 -> 1.1.0 diff, with 1.2.0 also in the folder)
CHOICE = [
    (None, False),  # the newest loaded version, 1.2.0: `test` runs it there only
    ('"1.0.0"', True),
    ('"1.1.0"', True),
    ('">=1.1.0"', True),
    ('"1.2.0"', False),
    ('["1.0.0", "1.2.0"]', True),
    ('"<1.0.1"', True),
]


@pytest.mark.parametrize("versions, chosen", CHOICE, ids=[str(c[0]) for c in CHOICE])
def test_versions_choose_the_scenario_cases(capsys, tmp_path, versions, chosen):
    rules = _rules(tmp_path, "scenarios:\n" + _scenario("s-1", versions))
    code, out, err = _diff(capsys, rules)
    assert code == 0, err
    assert json.loads(out)["generated"]["scenarios"]["cases"] == int(chosen)


def test_a_file_wide_versions_applies_to_each_scenario(capsys, tmp_path):
    rules = _rules(tmp_path, 'versions: "1.2.0"\nscenarios:\n' + _scenario("s-1") + _scenario("s-2", '"1.0.0"'))
    code, out, _ = _diff(capsys, rules)
    assert (code, json.loads(out)["generated"]["scenarios"]["cases"]) == (0, 1)


@pytest.mark.parametrize("scenario, message", [
    (_scenario("s-1", '"1.0.0"', "{include: [plann]}"),
     "unknown_recommendation: unknown recommendation 'plann' in pair@1.0.0; did you mean 'plan'? "
     "(at $.scenarios[0].expect.include[0])"),
    (_scenario("s-1", '"1.0.0"', "{exclude: [PR-020]}"),
     "unknown_recommendation: 'PR-020' is a rule of pair@1.0.0, not a recommendation (it gives 'plan') "
     "(at $.scenarios[0].expect.exclude[0])"),
    (_scenario("s-1", None, "{suppressed: [plan.discharge_in_days]}"),
     "unknown_recommendation: 'plan.discharge_in_days' is a fact, not a recommendation of pair@1.2.0 "
     "(at $.scenarios[0].expect.suppressed[0])"),
    (_scenario("s-1", '">=1.0.0"', "{exclude: [encourage]}"),
     "unknown_recommendation: unknown recommendation 'encourage' in pair@1.2.0 (the scenario also applies to "
     "1.0.0, 1.1.0, which have it: narrow its `versions:`) (at $.scenarios[0].expect.exclude[0])"),
    (_scenario("s-1", '"1.0.0"', "{}", "{discharge_in_day: 3}"),
     "unknown_fact: unknown fact 'plan.discharge_in_day'; did you mean 'plan.discharge_in_days'? "
     "(at $.scenarios[0].facts.plan.discharge_in_day)"),
    (_scenario("s-1", '">=2.0.0"'),
     "unknown_policy_version: '>=2.0.0' matches no loaded version of pair (loaded: 1.0.0, 1.1.0, 1.2.0) "
     "(at $.scenarios[0].versions)"),
])
def test_a_misspelt_name_stops_the_diff(capsys, tmp_path, scenario, message):
    rules = _rules(tmp_path, "scenarios:\n" + scenario)
    code, out, err = _diff(capsys, rules)
    assert (code, out) == (2, "")
    [line] = [x for x in err.splitlines() if "cases.yaml:" in x]
    assert line.split(": ", 1)[1] == message


def test_test_refuses_what_diff_refuses(capsys, tmp_path):
    rules = _rules(tmp_path, "scenarios:\n" + _scenario("s-1", '"1.0.0"', "{include: [plann]}"))
    assert main(["test", str(rules)]) == 2
    test_err = capsys.readouterr().err
    assert _diff(capsys, rules)[0] == 2
    assert "did you mean 'plan'?" in test_err
