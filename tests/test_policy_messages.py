"""Issue 12, "every error at once, in plain words": what a clinical director reads when a policy is wrong.

Each table gives a policy file with mistakes in it and the exact lines
`attendance-policy validate` prints for it: every mistake once, at the line and
column of the value (or key) that is wrong, named by rule id.
"""

from __future__ import annotations

import pytest

from engine.core.errors import PolicyLoadError
from engine.policy.loader import load_policy_text

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
  rec_a:
    title: A
    indicator: info
    category: attendance
    text: a
  rec_b:
    title: B
    indicator: warning
    category: attendance
    text: b
rules:
  - id: R-001
    title: one
    priority: 10
    when:
      all:
        - {fact: attendance.partners_present, op: eq, value: 1}
        - {fact: history.consecutive_joint_sessions_missed, op: gte, param: limit}
    then: rec_a
    rationale: "{history.consecutive_joint_sessions_missed} missed (review from {param:limit})"
    source: s
"""


def edit(*changes: tuple[str, str]) -> str:
    """BASE with each (old, new) replaced once; every old text must be there."""
    text = BASE
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def messages(text: str) -> list[str]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "p.yaml", expected_version="1.0.0", expected_policy="demo")
    return [p.format() for p in caught.value.problems]


def test_base_is_valid():
    assert load_policy_text(BASE, "p.yaml").key == "demo@1.0.0"


# -- 1. every stage, every problem, one run --------------------------------------------------------------

def test_a_duplicate_key_does_not_hide_a_misspelt_fact():
    text = edit(("title: Demo\n", "title: Demo\ntitle: Again\n"),
                ("fact: attendance.partners_present", "fact: attendance.partner_present"))
    assert messages(text) == [
        "p.yaml:5:1: duplicate_key: duplicate key 'title' (first defined at line 4, column 1) (at $.title)",
        "p.yaml:29:18: unknown_fact: rule R-001: unknown fact 'attendance.partner_present'; did you mean "
        "'attendance.partners_present'? (at $.rules[0].when.all[0].fact)",
    ]


def test_four_mistakes_are_four_errors_in_file_order():
    text = edit(("owner: Clinical director\n", "owner: Clinical director\nowner: Someone\n"),  # YAML
                ('"2026-01-01"', '"2026-1-32"'),  # schema
                ("indicator: warning", "indicator: warn"),  # schema, in the catalog
                ("then: rec_a", "then: rec_c"))  # semantic
    assert messages(text) == [
        "p.yaml:3:17: schema: '2026-1-32' is not a date: write the date as YYYY-MM-DD, e.g. 2026-12-07 "
        "(at $.effective_from)",
        "p.yaml:6:1: duplicate_key: duplicate key 'owner' (first defined at line 5, column 1) (at $.owner)",
        "p.yaml:20:16: schema: recommendation rec_b: 'warn' is not one of: info, warning, critical; did you mean "
        "'warning'? (at $.recommendations.rec_b.indicator)",
        "p.yaml:31:11: unknown_recommendation: rule R-001: unknown recommendation 'rec_c'; did you mean 'rec_b'? "
        "(at $.rules[0].then)",
    ]


def test_schema_and_semantic_problems_in_the_same_rule_are_both_reported():
    text = edit(("priority: 10", "priority: 0"), ("fact: attendance.partners_present", "fact: attendance.partner"))
    assert messages(text) == [
        "p.yaml:25:15: schema: rule R-001: `priority` is 0; the smallest allowed is 1 (at $.rules[0].priority)",
        "p.yaml:28:18: unknown_fact: rule R-001: unknown fact 'attendance.partner'; did you mean "
        "'attendance.partners_present'? (at $.rules[0].when.all[0].fact)",
    ]


# -- 2. one mistake, one error, at the value ---------------------------------------------------------------

@pytest.mark.parametrize(("changes", "expected"), [
    ((('"2026-01-01"', '"07/12/2026"'),),
     "p.yaml:3:17: schema: '07/12/2026' is not written as YYYY-MM-DD: write 2026-12-07 for 7 December 2026 (or "
     "2026-07-12 for 12 July 2026) (at $.effective_from)"),
    ((('"2026-01-01"', '"12/31/2026"'),),
     "p.yaml:3:17: schema: '12/31/2026' is not written as YYYY-MM-DD: write 2026-12-31 for 31 December 2026 "
     "(at $.effective_from)"),
    ((('"2026-01-01"', '"2026-02-30"'),),
     "p.yaml:3:17: schema: '2026-02-30' is not a real date: write the date as YYYY-MM-DD, e.g. 2026-12-07 "
     "(at $.effective_from)"),
    ((('"2026-01-01"', "next monday"),),
     "p.yaml:3:17: schema: 'next monday' is not a date: write the date as YYYY-MM-DD, e.g. 2026-12-07 "
     "(at $.effective_from)"),
    ((("changes: first", "date: 1.1.2026\n    changes: first"),),
     "p.yaml:8:11: schema: '1.1.2026' is not written as YYYY-MM-DD: write 2026-01-01 for 1 January 2026 "
     "(at $.changelog[0].date)"),
    ((("priority: 10", 'priority: "10"'),),
     "p.yaml:25:15: schema: rule R-001: `priority` must be a whole number, not text ('10'); write it without quotes "
     "(at $.rules[0].priority)"),
    ((("then: rec_a", "then: Rec A"),),
     "p.yaml:30:11: schema: rule R-001: 'Rec A' is not a name: use lowercase letters, digits and _, starting with a "
     "letter, e.g. rec_a (at $.rules[0].then)"),
    ((("id: R-001", "id: ca-75"),),
     "p.yaml:23:9: schema: rule ca-75: 'ca-75' is not a rule id: write capital letters, a dash and 3 or 4 digits, "
     "e.g. CA-010 (at $.rules[0].id)"),
    ((("fact: attendance.partners_present", "fact: Attendance.Partners_Present"),),
     "p.yaml:28:18: schema: rule R-001: 'Attendance.Partners_Present' is not a fact: write section.name in "
     "lowercase, e.g. attendance.partners_present; did you mean 'attendance.partners_present'? "
     "(at $.rules[0].when.all[0].fact)"),
    ((("op: eq, value: 1}", "op: eq, value: 1, param: limit}"),),
     "p.yaml:28:11: schema: rule R-001: the condition has both `value` and `param`: compare the fact with one of "
     "them (at $.rules[0].when.all[0])"),
    ((("op: eq, value: 1}", "op: eq, valeu: 1}"),),
     "p.yaml:28:55: schema: rule R-001: unknown key 'valeu'; did you mean 'value'? (at $.rules[0].when.all[0].valeu)"),
    ((("op: eq, value: 1}", "op: eq}"),),
     "p.yaml:28:11: schema: rule R-001: the condition needs one of `value`, `param` or `other_fact` (what the fact is "
     "compared with) (at $.rules[0].when.all[0])"),
    ((("    source: s\n", "    sorce: s\n"),),
     "p.yaml:32:5: schema: rule R-001: unknown key 'sorce'; did you mean 'source'? (at $.rules[0].sorce)"),
    ((("op: eq, value: 1}", "op: equals, value: 1}"),),
     "p.yaml:28:51: schema: rule R-001: 'equals' is not one of: eq, ne, lt, lte, gt, gte, in, not_in "
     "(at $.rules[0].when.all[0].op)"),
    ((("  limit: 3", "  limit: 3\n  Review Limit: 5"),),
     "p.yaml:11:3: schema: 'Review Limit' is not a name: use lowercase letters, digits and _, starting with a letter, "
     "e.g. review_limit (at $.parameters.Review Limit)"),
    ((("  limit: 3", "  limit: {days: 3}"),),
     "p.yaml:10:10: schema: `limit` must be text, true/false or a number, not a mapping; a value that starts with { "
     "is read as a mapping: put it in quotes (at $.parameters.limit)"),
    ((("    title: one\n", "    title:\n"),),
     "p.yaml:24:11: schema: rule R-001: `title` is empty: write text (at $.rules[0].title)"),
    ((("    title: one\n", "    title: yes\n"),),
     "p.yaml:24:12: schema: rule R-001: `title` must be text, not true; put it in quotes to make it text "
     "(at $.rules[0].title)"),
    ((('rationale: "{history.consecutive_joint_sessions_missed} missed (review from {param:limit})"',
       "rationale: {history.consecutive_joint_sessions_missed}"),),
     "p.yaml:31:16: schema: rule R-001: `rationale` must be text, not a mapping; a value that starts with { is read "
     "as a mapping: put it in quotes (at $.rules[0].rationale)"),
    ((("value: 1}", "value: [1, 1]}"), ("op: eq,", "op: in,")),
     "p.yaml:28:62: schema: rule R-001: 1 is listed twice in `value` (at $.rules[0].when.all[0].value)"),
])
def test_one_mistake_is_one_error(changes, expected):
    assert messages(edit(*changes)) == [expected]


# -- 3. a key under the wrong parent ---------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "expected"), [
    ((("    text: a\n", "  text: a\n"),),
     "p.yaml:16:3: schema: `text` does not belong in the recommendations catalog: it probably belongs to "
     "recommendation rec_a (line 12), which has no `text`; indent it 4 spaces, like the other keys there "
     "(at $.recommendations.text)"),
    ((("    source: s\n", "source: s\n"),),
     "p.yaml:32:1: schema: `source` does not belong at the top level: it probably belongs to rule R-001 (line 23), "
     "which has no `source`; indent it 4 spaces, like the other keys there (at $.source)"),
    ((("    then: rec_a\n", "      then: rec_a\n"),),
     "p.yaml:30:7: schema: rule R-001: `then` does not belong in the condition at line 26: it probably belongs to the "
     "rule itself (line 23), which has no `then`; indent it 4 spaces, like the other keys there "
     "(at $.rules[0].when.then)"),
    ((("    source: s\n", "    source: s\nsuppresses: [rec_b]\n"),),
     "p.yaml:33:1: schema: `suppresses` does not belong at the top level: it probably belongs to rule R-001 "
     "(line 23); indent it 4 spaces, like the other keys there (at $.suppresses)"),
    ((("    category: attendance\n    text: a\n", "    category: attendance\n      text: a\n"),),
     "p.yaml:16:7: yaml_syntax: `text` (line 16) is indented 6 spaces, more than `category` on line 15 (4 spaces), so "
     "YAML reads it as part of category's value; indent it 4 spaces, like `category` (at $)"),
])
def test_a_key_under_the_wrong_parent_is_named_at_its_own_line(changes, expected):
    assert messages(edit(*changes)) == [expected]
