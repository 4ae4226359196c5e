"""Issue 12, continued: rules named by id, parameters where they are defined, versions in date order, text that
is not Unicode, and rationale templates that cannot be filled, each refused at load with its place."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.core.errors import PolicyLoadError
from engine.decide.rationale import compile_template
from engine.facts.prepare import fact_catalogue
from engine.policy.loader import load_policy_text, load_rules
from engine.policy.model import leaves
from engine.policy.template import TemplateError

BASE = """\
policy: demo
version: 1.0.0
effective_from: "2026-01-01"
title: Demo
owner: Clinical director
changelog:
  - version: 1.0.0
    changes: first
parameters:
  limit: 3
recommendations:
  rec_a: {title: A, indicator: info, category: attendance, text: a}
rules:
  - id: R-001
    title: one
    priority: 10
    when: {fact: history.consecutive_joint_sessions_missed, op: gte, param: limit}
    then: rec_a
    rationale: >-
      {history.consecutive_joint_sessions_missed} joint sessions were
      missed (review from {param:limit}).
    source: s
"""


def edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def messages(text: str) -> list[str]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml")
    return [p.format() for p in caught.value.problems]


# -- 4. rules by id; a parameter where it is defined ----------------------------------------------------------

@pytest.mark.parametrize(("changes", "expected"), [
    ((("  - id: R-001\n    title: one\n", "  - title: one\n"),),
     ["p.yaml:14:5: schema: the rule at line 14: `id` is missing (at $.rules[0])"]),
    ((("  limit: 3", '  limit: "3"'),),
     ["p.yaml:10:10: value_type: parameter 'limit' is '3', which does not fit the conditions that use it (rule "
      "R-001, line 17): history.consecutive_joint_sessions_missed is a number; '3' is not; write it without quotes "
      "(at $.parameters.limit)"]),
    ((("  limit: 3", "  limit: three"),
      ("    source: s\n", "    source: s\n  - {id: R-002, title: two, priority: 20, then: rec_a, rationale: r, "
                          "source: s, when: {fact: history.program_days_this_week, op: lt, param: limit}}\n")),
     ["p.yaml:10:10: value_type: parameter 'limit' is 'three', which does not fit the conditions that use it (rule "
      "R-001, line 17; rule R-002, line 23): history.consecutive_joint_sessions_missed is a number; 'three' is not; "
      "history.program_days_this_week is a number; 'three' is not (at $.parameters.limit)"]),
])
def test_rules_by_id_and_parameters_where_defined(changes, expected):
    assert messages(edit(BASE, *changes)) == expected


# -- 5. a higher version takes effect later ----------------------------------------------------------------------

def _version(base: Path, version: str, effective: str) -> Path:
    path = base / "demo" / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(edit(BASE, ("version: 1.0.0", f"version: {version}"), ("- version: 1.0.0", f"- version: {version}"),
                         ('"2026-01-01"', f'"{effective}"')), encoding="utf-8")
    return path


@pytest.mark.parametrize(("dates", "expected"), [
    ({"1.0.0": "2026-01-01", "1.1.0": "2026-01-01"},
     ["{1.1.0}:3:17: effective_from_order: version 1.1.0 takes effect on 2026-01-01, the same date as version 1.0.0 "
      "(was it copied along with the file?); a higher version must take effect after the version before it: write "
      "the date from which 1.1.0 applies (at $.effective_from)"]),
    ({"1.0.0": "2026-03-01", "1.1.0": "2026-02-01"},
     ["{1.1.0}:3:17: effective_from_order: version 1.1.0 takes effect on 2026-02-01, before version 1.0.0, which "
      "takes effect on 2026-03-01; a higher version must take effect after the version before it "
      "(at $.effective_from)"]),
    ({"1.0.0": "2026-01-01", "1.10.0": "2026-02-01", "1.9.0": "2026-03-01"},  # 1.10.0 follows 1.9.0, not 1.0.0
     ["{1.10.0}:3:17: effective_from_order: version 1.10.0 takes effect on 2026-02-01, before version 1.9.0, which "
      "takes effect on 2026-03-01; a higher version must take effect after the version before it "
      "(at $.effective_from)"]),
    ({"1.0.0": "2026-01-01", "1.1.0": "2026-01-02", "2.0.0": "2026-06-01"}, []),
])
def test_a_higher_version_takes_effect_after_the_one_before(tmp_path, dates, expected):
    files = {v: _version(tmp_path, v, d) for v, d in dates.items()}
    if not expected:
        assert [p.version for p in load_rules([tmp_path])] == ["1.0.0", "1.1.0", "2.0.0"]
        return
    with pytest.raises(PolicyLoadError) as caught:
        load_rules([tmp_path])
    wanted = [e.replace("{" + v + "}", str(f)) for e in expected for v, f in files.items() if "{" + v + "}" in e]
    assert [p.format() for p in caught.value.problems] == wanted


# -- 6. text that is not Unicode -------------------------------------------------------------------------------------

_LONE = "not valid Unicode: the text {} holds \\ud800, half of a character (an unpaired surrogate) that cannot be " \
        "stored or shown; write the character itself"


@pytest.mark.parametrize(("changes", "expected"), [
    ((("    title: one", '    title: "one \\ud800"'),),
     "p.yaml:15:17: invalid_unicode: rule R-001: " + _LONE.format("'one \\ud800'") + " (at $.rules[0].title)"),
    ((("    source: s", '    source: "FAQ \\ud800 5"'),),
     "p.yaml:22:18: invalid_unicode: rule R-001: " + _LONE.format("'FAQ \\ud800 5'") + " (at $.rules[0].source)"),
    ((("text: a}", 'text: "a\\ud800"}'),),
     "p.yaml:12:68: invalid_unicode: recommendation rec_a: " + _LONE.format("'a\\ud800'")
     + " (at $.recommendations.rec_a.text)"),
    ((("    rationale: >-\n      {history.consecutive_joint_sessions_missed} joint sessions were\n"
       "      missed (review from {param:limit}).\n", '    rationale: "x \\ud800"\n'),),
     "p.yaml:19:19: invalid_unicode: rule R-001: " + _LONE.format("'x \\ud800'") + " (at $.rules[0].rationale)"),
    ((("when: {fact: history.consecutive_joint_sessions_missed, op: gte, param: limit}",
       'when: {fact: session.id, op: eq, value: "s\\ud800"}'),),
     "p.yaml:17:47: invalid_unicode: rule R-001: " + _LONE.format("'s\\ud800'") + " (at $.rules[0].when.value)"),
])
def test_a_lone_surrogate_is_refused_at_load(changes, expected):
    assert messages(edit(BASE, *changes)) == [expected]


def _broken_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo" / "1.0.0.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(edit(BASE, ("    title: one", '    title: "one \\ud800"')), encoding="utf-8")
    return path


def test_validate_refuses_a_lone_surrogate_with_its_place(tmp_path, capsys):
    path = _broken_file(tmp_path)
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:15:17: invalid_unicode: rule R-001: " + _LONE.format("'one \\ud800'") + " (at $.rules[0].title)",
        "1 error occurred"]


def test_the_validate_command_prints_no_traceback(tmp_path):
    path = _broken_file(tmp_path)
    run = subprocess.run([sys.executable, "-m", "engine.cli", "validate", str(tmp_path)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr.startswith(f"{path}:15:17: invalid_unicode: ") and "Traceback" not in run.stderr


# -- 7. every rationale renders -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("rationale", "expected"), [
    ("      {history.consecutive_joint_sessions_missed} joint sessions were\n      missed (review from {param:limt}).\n",
     ["p.yaml:21:27: unknown_parameter: rule R-001: rationale quotes unknown parameter 'limt'; did you mean "
      "'limit'? (at $.rules[0].rationale)"]),
    ("      {history.consecutive_joint_session_missed} joint sessions were missed.\n",
     ["p.yaml:20:7: unknown_fact: rule R-001: rationale quotes unknown fact 'history.consecutive_joint_session_missed'; "
      "did you mean 'history.consecutive_joint_sessions_missed'? (at $.rules[0].rationale)"]),
    ("      Missed {} times; see {matched }.\n",
     ["p.yaml:20:14: bad_placeholder: rule R-001: rationale has an empty placeholder {}: write {section.fact}, "
      "{param:name} or {matched} inside the braces (at $.rules[0].rationale)",
      "p.yaml:20:28: unknown_fact: rule R-001: rationale quotes unknown fact 'matched '; did you mean 'matched'? "
      "(at $.rules[0].rationale)"]),
])
def test_a_placeholder_the_renderer_cannot_fill_is_a_load_error_at_its_line(rationale, expected):
    text = edit(BASE, ("      {history.consecutive_joint_sessions_missed} joint sessions were\n"
                       "      missed (review from {param:limit}).\n", rationale))
    assert messages(text) == expected


def test_the_renderer_refuses_what_the_loader_refuses(default_policy):
    """One mechanism: compile_template parses with the loader's parser, so it fails the same way."""
    rule = dataclasses.replace(default_policy.rules[0], rationale="from {param:limt}")
    policy = dataclasses.replace(default_policy, rules=(rule,))
    with pytest.raises(TemplateError) as caught:
        compile_template(rule.rationale, policy)
    assert caught.value.message == "rationale quotes unknown parameter 'limt'"


def _example_facts() -> dict[str, dict[str, object]]:
    facts: dict[str, dict[str, object]] = {}
    for path, spec in fact_catalogue().items():
        section, name = path.split(".")
        value = spec.default if spec.has_default else spec.enum[0] if spec.enum else spec.minimum
        facts.setdefault(section, {})[name] = "x" if value is None and spec.kind == "string" else value
    return facts


def test_every_rule_of_every_loaded_policy_renders(policy_set):
    for compiled in policy_set.compiled.values():
        policy = compiled.policy
        for rule in policy.rules:
            text = compile_template(rule.rationale, policy)(_example_facts(), tuple(leaves(rule.when)))
            assert text and "{" not in text, (policy.key, rule.id, text)
