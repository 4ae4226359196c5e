"""`attendance-policy diff`: hand-made version pairs with known changes, Markdown and JSON, gates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.ci.diff import diff_policies
from engine.ci.diff_report import to_markdown
from engine.ci.scenarios import load_scenarios
from engine.cli.main import main
from engine.core.errors import PolicyError
from engine.policy.loader import load_policy

ROOT = Path(__file__).resolve().parent.parent
DIFF = Path(__file__).resolve().parent / "fixtures" / "tools" / "diff"
PAIR = DIFF / "pair"
CASES = load_scenarios(PAIR / "tests" / "cases.yaml")
DEFAULT = ROOT / "rules" / "couples-attendance" / "1.0.0.yaml"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def diff(old: str, new: str):
    return diff_policies(load_policy(PAIR / f"{old}.yaml"), load_policy(PAIR / f"{new}.yaml"), CASES, isolate=False)


# (new version, changes as (kind, recommendation, before, after, cases, scenarios), changed cases)
KNOWN = [
    ("1.0.0", [], 0),
    # window 14 -> 21: couples, no safety concern, discharge in 15, 20 or 21 days (3 enumerated) + the scenario
    ("1.1.0", [("added", "plan", "—", "PR-020 (info)", 4, 1)], 4),
    # document critical: the 3 (present, expected) pairs with someone absent; encourage gone: 1 case + 1 scenario
    ("1.2.0", [("removed", "encourage", "PR-030 (info)", "—", 2, 1),
               ("indicator", "document", "PR-010 (warning)", "PR-010 (critical)", 3, 0)], 5),
    # the pause now suppresses encourage: couples, relapse, safety concern (1 enumerated) + the scenario
    ("1.3.0", [("suppressed", "encourage", "PR-030 (info)", "suppressed by PR-001", 2, 1)], 2),
]


@pytest.mark.parametrize("new, expected, changed", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_changes(new, expected, changed):
    report = diff("1.0.0", new)
    got = [(g.change.kind, g.change.rec, g.change.old.describe() if g.change.old else "—",
            g.change.new.describe() if g.change.new else "—", g.cases, len(g.scenarios)) for g in report.groups]
    assert got == expected
    assert report.changed_cases == changed
    assert report.scenario_cases == 2


@pytest.mark.parametrize("new, kind, example", [
    ("1.1.0", "added", {"session": {"id": "pair-1", "type": "couples"}, "plan": {"discharge_in_days": 18}}),
    ("1.2.0", "removed", {"session": {"id": "diff-00031", "type": "couples"},
                          "clinical": {"relapse_since_last_session": True}}),
    ("1.2.0", "indicator", {"session": {"id": "diff-00001", "type": "couples"},
                            "attendance": {"partners_present": 0}}),
])
def test_each_change_shows_its_smallest_case(new, kind, example):
    group = next(g for g in diff("1.0.0", new).groups if g.change.kind == kind)
    assert group.example == example


def test_markdown_has_a_summary_table_and_one_case_per_change():
    md = to_markdown(diff("1.0.0", "1.2.0"))
    lines = md.splitlines()
    assert lines[0] == "## Policy impact: `pair@1.0.0` → `pair@1.2.0`"
    assert "**2 kinds of change** in 5 of 72 cases." in lines
    assert lines[lines.index("| # | change | recommendation | before | after | cases | scenarios |") + 2:][:2] == [
        "| 1 | removed | `encourage` | PR-030 (info) | — | 2 | 1 |",
        "| 2 | indicator changed | `document` | PR-010 (warning) | PR-010 (critical) | 3 | 0 |",
    ]
    assert lines.count("```json") == 2
    assert "- before: document (PR-010, warning)" in lines
    assert "- after: document (PR-010, critical)" in lines
    assert lines[-1].startswith("_Enumeration: 70 cases over the 6 facts the two versions read, in ")


def test_no_change():
    assert "No change: the two versions decide all 72 cases alike." in to_markdown(diff("1.0.0", "1.0.0"))


@pytest.mark.parametrize("old, new, options, code", [
    ("pair@1.0.0", "pair@1.0.0", ("--fail-on-change",), 0),
    ("pair@1.0.0", "pair@1.1.0", (), 0),
    ("pair@1.0.0", "pair@1.1.0", ("--fail-on-change",), 1),
    (PAIR / "1.0.0.yaml", PAIR / "1.3.0.yaml", ("--fail-on-change",), 1),
    ("pair@1.0.0", PAIR / "1.0.0.yaml", ("--fail-on-change",), 0),
])
def test_exit_status(capsys, old, new, options, code):
    assert run(capsys, "diff", old, new, "--rules", DIFF, *options)[0] == code


@pytest.mark.parametrize("old, message", [
    ("pair@1.4.0", "unknown_policy_version: policy 'pair' has no version '1.4.0' in {dir}/pair; "
                   "did you mean '1.3.0'?"),
    ("pear@1.0.0", "unknown_policy: unknown policy 'pear' in {dir}; did you mean 'pair'?"),
])
def test_unknown_versions_are_named(capsys, old, message):
    code, _, err = run(capsys, "diff", old, "pair@1.0.0", "--rules", DIFF)
    assert code == 2
    assert err.splitlines()[0] == "<input>: " + message.format(dir=DIFF)


def test_json_states_the_enumeration(capsys):
    code, out, _ = run(capsys, "diff", "pair@1.0.0", "pair@1.1.0", "--rules", DIFF, "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["changed"] is True
    assert (data["cases"], data["changed_cases"], data["enumeration"]["cases"]) == (102, 4, 100)
    assert data["enumeration"]["full_product"] == 5 * 2 * 3 * 2 * 7 * 2
    assert data["enumeration"]["seconds"] >= 0
    assert data["changes"][0]["new"] == {"given": True, "rule": "PR-020", "indicator": "info"}


def test_the_default_policy_against_a_wider_discharge_window_takes_seconds(tmp_path):
    text = DEFAULT.read_text(encoding="utf-8")
    text = text.replace("version: 1.0.0\n", "version: 1.1.0\n", 1).replace(
        "changelog:\n", "changelog:\n  - {version: 1.1.0, changes: Wider window.}\n", 1).replace(
        "discharge_planning_window_days: 14", "discharge_planning_window_days: 21")
    new = tmp_path / "couples-attendance" / "1.1.0.yaml"
    new.parent.mkdir()
    new.write_text(text, encoding="utf-8")
    report = diff_policies(load_policy(DEFAULT), load_policy(new), [], isolate=False)
    assert [(g.change.kind, g.change.rec) for g in report.groups] == [
        ("added", "aftercare_couples_referral"), ("added", "schedule_joint_discharge_planning")]
    assert report.enumerated == 3275
    assert report.seconds < 10


def test_a_large_slice_is_collapsed_to_one_value_per_class(monkeypatch):
    import engine.ci.diff as diff_module

    monkeypatch.setattr(diff_module, "SLICE_LIMIT", 40)  # the `plan` slice has 5 x 7 x 2 = 70 combinations
    report = diff("1.0.0", "1.1.0")
    [group] = report.groups
    # discharge: unknown (same class as 22 days), 13 (within both windows), 15 (only within 21 days)
    assert (group.change.kind, group.cases, report.enumerated) == ("added", 2, 24)


def test_a_slice_too_large_even_collapsed_is_refused(monkeypatch):
    import engine.ci.diff as diff_module

    monkeypatch.setattr(diff_module, "SLICE_LIMIT", 5)
    with pytest.raises(PolicyError) as err:
        diff("1.0.0", "1.1.0")
    assert err.value.message == ("the enumeration would need 12 cases for the facts session.type, "
                                 "attendance.partners_expected, attendance.partners_present; at most 5: split "
                                 "the conditions that read them")
