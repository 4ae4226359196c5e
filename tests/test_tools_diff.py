"""`attendance-policy diff`: hand-made version pairs with known changes, each in its report section, and exit status."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from engine.ci.diff import diff_scenarios, scenario_cases
from engine.cli.main import main
from engine.core.errors import PolicyError
from engine.impact.markdown import to_markdown
from engine.impact.report import ImpactReport, impact_report
from engine.policy.loader import load_policy

ROOT = Path(__file__).resolve().parent.parent
DIFF = Path(__file__).resolve().parent / "fixtures" / "tools" / "diff"
PAIR = DIFF / "pair"
BASE = (PAIR / "1.0.0.yaml").read_text(encoding="utf-8")
DEFAULT = ROOT / "rules" / "couples-attendance" / "1.0.0.yaml"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def diff(old: str, new: str) -> ImpactReport:
    a, b = load_policy(PAIR / f"{old}.yaml"), load_policy(PAIR / f"{new}.yaml")
    return impact_report(a, b, scenarios=scenario_cases(diff_scenarios(None, a, b)), isolate=False)


def rows(report: ImpactReport):
    assert report.cases is not None
    return [(g.change.kind, g.change.rec, g.change.old.describe() if g.change.old else "—",
             g.change.new.describe() if g.change.new else "—", g.cases, len(g.scenarios)) for g in report.cases.groups]


# (new version, changes as (kind, recommendation, before, after, cases, scenarios), changed cases, scenario cases)
# The fixture's scenarios have no `versions:`: they run on the newest version (1.3.0) only, as `test` runs them.
KNOWN = [
    ("1.0.0", [], 0, 0),
    # window 14 -> 21: couples, no safety concern, discharge in 15, 20 or 21 days; and the rationale quotes the window
    ("1.1.0", [("added", "plan", "—", "PR-020 (info)", 3, 0), ("rationale", "plan", "PR-020 (info)",
                                                                "PR-020 (info)", 2, 0)], 5, 0),
    # document critical: the 3 (present, expected) pairs with someone absent; encourage gone: 1 case
    ("1.2.0", [("removed", "encourage", "PR-030 (info)", "—", 1, 0),
               ("indicator", "document", "PR-010 (warning)", "PR-010 (critical)", 3, 0)], 4, 0),
    # the pause now suppresses encourage: couples, relapse, safety concern (1 enumerated) + the scenario
    ("1.3.0", [("suppressed", "encourage", "PR-030 (info)", "suppressed by PR-001", 2, 1)], 2, 2),
]


@pytest.mark.parametrize("new, expected, changed, scenarios", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_changes(new, expected, changed, scenarios):
    report = diff("1.0.0", new)
    assert rows(report) == expected
    assert report.cases is not None
    assert (report.cases.changed_cases, report.cases.scenario_cases) == (changed, scenarios)


def _variant(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """pair@1.1.0 in a rules folder beside a copy of 1.0.0: the base with `edits` (old, new) applied."""
    folder = tmp_path / "pair"
    folder.mkdir(exist_ok=True)
    (folder / "1.0.0.yaml").write_text(BASE, encoding="utf-8")
    text = BASE.replace("version: 1.0.0\n", "version: 1.1.0\n", 1).replace(
        'effective_from: "2026-01-01"', 'effective_from: "2026-02-01"', 1).replace(
        "  - {version: 1.0.0, changes: Base version.}", "  - {version: 1.1.0, changes: The change.}\n"
                                                       "  - {version: 1.0.0, changes: Base version.}", 1)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (folder / "1.1.0.yaml").write_text(text, encoding="utf-8")
    return tmp_path


NEW_RULE = """  - id: PR-040
    title: Conflict in recovery
    priority: 40
    when:
      all:
        - {fact: session.type, op: eq, value: couples}
        - {fact: clinical.conflict_arose_in_recovery, op: eq, value: true}
    then: encourage
    rationale: A conflict arose in recovery.
    source: "As-needed participation"
"""
PR_030 = BASE[BASE.index("  - id: PR-030"):]

# (name, edits, policy changes as refs with field, decision groups as (kind, rec, causes), exit with --fail-on-change)
VARIANTS = [
    ("wording only", [("rationale: A partner missed the session.", "rationale: A partner missed this joint session.")],
     ["effective_from effective_from", "changelog 1.1.0", "rule PR-010:rationale"],
     [("rationale", "document", ["rule PR-010"])], 1),
    ("recommendation text", [("text: Document the absence.", "text: Do NOT document the absence; call the team.")],
     ["effective_from effective_from", "changelog 1.1.0", "recommendation document:text"],
     [("text", "document", ["recommendation document"])], 1),
    ("parameter", [("window: 14", "window: 21")],
     ["effective_from effective_from", "changelog 1.1.0", "parameter window:value"],
     [("added", "plan", ["parameter window"]), ("rationale", "plan", ["parameter window"])], 1),
    ("new rule", [(PR_030, PR_030 + NEW_RULE)],
     ["effective_from effective_from", "changelog 1.1.0", "rule PR-040:"],
     [("added", "encourage", ["rule PR-040"])], 1),
    ("removed rule", [(PR_030, "")],
     ["effective_from effective_from", "changelog 1.1.0", "rule PR-030:"],
     [("removed", "encourage", ["rule PR-030"])], 1),
    ("changed indicator", [("then: document\n", "then: document\n    indicator: critical\n")],
     ["effective_from effective_from", "changelog 1.1.0", "rule PR-010:indicator"],
     [("indicator", "document", ["rule PR-010"])], 1),
    ("precedence", [("priority: 20\n", "priority: 5\n")],
     ["effective_from effective_from", "changelog 1.1.0", "rule PR-020:priority"],
     [("order", "plan > document", ["rule PR-020"])], 1),
    ("changelog only", [], ["effective_from effective_from", "changelog 1.1.0"], [], 0),
]


@pytest.mark.parametrize("edits, policy, groups, code", [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_each_kind_of_change_has_its_section_and_exit_status(capsys, tmp_path, edits, policy, groups, code):
    rules = _variant(tmp_path, *edits)
    status, out, err = run(capsys, "diff", "pair@1.0.0", "pair@1.1.0", "--rules", rules, "--format", "json",
                           "--fail-on-change")
    data = json.loads(out)
    assert status == code
    assert [f"{c['section']} {c['subject']}" + (f":{c['field']}" if c["section"] in ("rule", "recommendation",
            "parameter") else "") for c in data["policy_changes"]] == policy
    assert [(g["kind"], g["recommendation"], g["causes"]) for g in data["generated"]["groups"]] == groups
    assert data["changed"] is bool(groups)
    if code:  # the summary line says what kind of change it saw
        assert err.startswith("diff: Decisions change in ")
        assert all(f"({n})" in err for n in data["kinds"].values())
    md_code, md, _ = run(capsys, "diff", "pair@1.0.0", "pair@1.1.0", "--rules", rules)
    assert md_code == 0
    heads = [line for line in md.splitlines() if line.startswith("### ")]
    assert heads == [f"### Changes to the policy ({len(policy)})", "### Decisions that change on generated cases"]


def test_wording_change_shows_both_texts(tmp_path):
    rules = _variant(tmp_path, ("text: Document the absence.", "text: Do NOT document the absence; call the team."))
    report = impact_report(load_policy(rules / "pair" / "1.0.0.yaml"), load_policy(rules / "pair" / "1.1.0.yaml"),
                           isolate=False)
    md = to_markdown(report)
    assert f"| {rules}/pair/1.1.0.yaml:16 | recommendation `document` changed: text | Document the absence. | " \
           "Do NOT document the absence; call the team. |" in md
    assert "- text before: Document: Document the absence. (source: Irregular attendance; attendance)" in md
    assert "- text after: Document: Do NOT document the absence; call the team. (source: Irregular attendance; " \
           "attendance)" in md


def test_a_new_rule_is_shown_in_words(tmp_path):
    rules = _variant(tmp_path, (PR_030, PR_030 + NEW_RULE))
    md = to_markdown(impact_report(load_policy(rules / "pair" / "1.0.0.yaml"),
                                   load_policy(rules / "pair" / "1.1.0.yaml"), isolate=False))
    assert "| when | session type is couples and conflict arose in recovery |" in md
    assert "| rationale | A conflict arose in recovery. |" in md
    # the example case: the facts that differ from the defaults, in words
    assert "| session type | couples |\n| conflict arose in recovery | yes |" in md


def test_each_change_shows_its_smallest_case():
    group = next(g for g in diff("1.0.0", "1.2.0").groups if g.change.kind == "indicator")
    assert group.example == {"session": {"id": "diff-00001", "type": "couples"}, "attendance": {"partners_present": 0}}


def test_markdown_summary_first_then_the_sections():
    md = to_markdown(diff("1.0.0", "1.2.0"))
    lines = md.splitlines()
    assert lines[0] == "## Policy impact: `pair@1.0.0` → `pair@1.2.0`"
    assert lines[2] == ("**Decisions change in 4 of 70 generated cases: recommendation removed (1), indicator "
                        "changed (1); 4 changes to the policy.**")
    assert lines[6].startswith("The 70 cases are generated, not patients: 70 combinations of the 6 facts")
    table = lines.index("| # | change | recommendation | before | after | cases | caused by |")
    assert lines[table + 2:table + 4] == [
        "| 1 | recommendation removed | `encourage` | PR-030 (info) | — | 1 | recommendation encourage, rule PR-030 |",
        "| 2 | indicator changed | `document` | PR-010 (warning) | PR-010 (critical) | 3 | rule PR-010 |",
    ]
    assert md.count("<details>") == 4  # the removed rule and recommendation, and one per group
    assert "```json" not in md


def test_no_change():
    report = diff("1.0.0", "1.0.0")
    assert report.summary() == "No decision changes: the two versions decide all 70 generated cases alike; " \
                               "0 changes to the policy."


def test_markdown_stays_under_the_limit_and_the_full_report_has_everything(capsys, tmp_path):
    edits = [(f"rationale: {r}", f"rationale: {r} Reworded.") for r in
             ("A safety concern was reported.", "A partner missed the session.", "A relapse occurred.")]
    rules = _variant(tmp_path, *edits, ("window: 14", "window: 21"))
    report = impact_report(load_policy(rules / "pair" / "1.0.0.yaml"), load_policy(rules / "pair" / "1.1.0.yaml"),
                           isolate=False)
    full = to_markdown(report, limit=None)
    short = to_markdown(report, limit=3000, full_report="impact-full.md")
    assert len(short) <= 3000 < len(full)
    assert short.startswith(full[:full.index("### Changes to the policy")])  # the summary always comes first
    assert "items are left out; the full report is in `impact-full.md`._" in short
    assert short.splitlines()[-1] == full.splitlines()[-1]  # the footer stays
    assert "shortened" not in full
    out_file = tmp_path / "full.md"
    code, out, _ = run(capsys, "diff", "pair@1.0.0", "pair@1.1.0", "--rules", rules, "--full-report", out_file)
    assert code == 0 and len(out) <= 60_000
    assert out_file.read_text(encoding="utf-8").count("<details>") == full.count("<details>")


def test_json_has_the_same_content(capsys):
    code, out, _ = run(capsys, "diff", "pair@1.0.0", "pair@1.1.0", "--rules", DIFF, "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["changed"] is True
    assert data["summary"] == diff("1.0.0", "1.1.0").summary()
    gen = data["generated"]
    assert (gen["cases"], gen["changed_cases"], gen["enumeration"]["cases"]) == (100, 5, 100)
    assert gen["enumeration"]["full_product"] == 5 * 2 * 3 * 2 * 7 * 2
    assert gen["groups"][0]["new"] == {"given": True, "rule": "PR-020", "indicator": "info"}
    assert gen["groups"][0]["causes"] == ["parameter window"]
    assert data["policy_changes"][1] == {"section": "parameter", "subject": "window", "action": "changed",
                                         "field": "value", "old": "14", "new": "21", "file": str(PAIR / "1.1.0.yaml"),
                                         "line": 13, "details": []}
    assert data["traffic"] is None


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


def test_the_default_policy_against_a_wider_discharge_window(tmp_path):
    text = DEFAULT.read_text(encoding="utf-8")
    text = text.replace("version: 1.0.0\n", "version: 1.1.0\n", 1).replace(
        "changelog:\n", "changelog:\n  - {version: 1.1.0, changes: Wider window.}\n", 1).replace(
        "discharge_planning_window_days: 14", "discharge_planning_window_days: 21")
    new = tmp_path / "couples-attendance" / "1.1.0.yaml"
    new.parent.mkdir()
    new.write_text(text, encoding="utf-8")
    report = impact_report(load_policy(DEFAULT), load_policy(new), isolate=False)
    assert report.cases is not None
    assert [(g.change.kind, g.change.rec) for g in report.cases.groups] == [
        ("added", "aftercare_couples_referral"), ("added", "schedule_joint_discharge_planning"),
        ("rationale", "schedule_joint_discharge_planning")]
    assert report.cases.enumerated == 3275


def test_a_large_slice_is_collapsed_to_one_value_per_class(monkeypatch):
    import engine.impact.cases as cases

    monkeypatch.setattr(cases, "SLICE_LIMIT", 40)  # the `plan` slice has 5 x 7 x 2 = 70 combinations
    report = diff("1.0.0", "1.1.0")
    assert report.cases is not None
    # discharge: unknown (same class as 22 days), 13 (within both windows), 15 (only within 21 days)
    assert [(g.change.kind, g.cases) for g in report.cases.groups] == [("added", 1), ("rationale", 1)]
    assert report.cases.enumerated == 24


def test_a_slice_too_large_even_collapsed_is_refused(monkeypatch):
    import engine.impact.cases as cases

    monkeypatch.setattr(cases, "SLICE_LIMIT", 5)
    with pytest.raises(PolicyError) as err:
        diff("1.0.0", "1.1.0")
    assert err.value.message == ("the enumeration would need 12 cases for the facts session.type, "
                                 "attendance.partners_expected, attendance.partners_present; at most 5: split "
                                 "the conditions that read them")


def test_the_example_report_in_the_docs_is_what_diff_writes(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "rules" / "couples-attendance"
    shutil.copytree(DEFAULT.parent, folder)
    text = DEFAULT.read_text(encoding="utf-8").replace(
        'version: 1.0.0\neffective_from: "2026-01-01"', 'version: 1.1.0\neffective_from: "2026-02-01"', 1).replace(
        "changelog:\n", 'changelog:\n  - version: 1.1.0\n    date: "2026-02-01"\n    changes: A clinician reviews '
        "attendance after two missed joint sessions in a row, not three.\n", 1).replace(
        "review_after_consecutive_missed: 3", "review_after_consecutive_missed: 2")
    (folder / "1.1.0.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "diff", "couples-attendance@1.0.0", "rules/couples-attendance/1.1.0.yaml")
    doc = (ROOT / "docs" / "policy-ci.md").read_text(encoding="utf-8")
    block = doc.split("posts this comment", 1)[1].split("\n\n", 1)[1].split("\n\n", 1)[0]
    shown = "\n".join(line[2:] if line.startswith("> ") else "" for line in block.splitlines())

    def timeless(md: str) -> str:
        return re.sub(r"[0-9.]+s\b", "Ns", md).strip()
    assert code == 0
    assert timeless(shown) == timeless(out)
