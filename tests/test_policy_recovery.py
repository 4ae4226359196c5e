"""Reading past a YAML syntax error: the file's other mistakes are reported in the same run (issue 12)."""

from __future__ import annotations

import pytest

from engine.core.errors import PolicyLoadError, Problem
from engine.policy.loader import load_policy_text
from support.policies import DEFAULT_POLICY

TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")
TAB_LINE = "\ttitle: Pause couples therapy when safety is a concern\n"
TITLE_LINE = "    title: Pause couples therapy when safety is a concern\n"


def _problems(*edits: tuple[str, str]) -> list[Problem]:
    text = TEXT
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    with pytest.raises(PolicyLoadError) as info:
        load_policy_text(text, "rules/couples-attendance/1.0.0.yaml", expected_version="1.0.0")
    return info.value.problems


def _line(needle: str) -> int:
    return TEXT[: TEXT.index(needle)].count("\n") + 1


@pytest.mark.parametrize("edits, expected", [
    pytest.param(  # the "four mistakes are four errors", one of them a tab
        [(TITLE_LINE, TAB_LINE), ('effective_from: "2026-01-01"', 'effective_from: "07/12/2026"'),
         ("clinical.therapist_recommends_pause, op", "clinical.therapist_recommend_pause, op"),
         ("review_after_consecutive_missed: 3", "review_after_consecutive_missed: three")],
        [("schema", 'effective_from: "'), ("value_type", "review_after_consecutive_missed: 3"),
         ("yaml_syntax", TITLE_LINE), ("unknown_fact", "clinical.therapist_recommends_pause, op")],
        id="tab-date-fact-parameter"),
    pytest.param(  # two tabs are two errors; a misspelt recommendation after them is still found
        [(TITLE_LINE, TAB_LINE), ("    priority: 2\n", "\tpriority: 2\n"),
         ("    then: pause_couples_therapy\n    indicator: critical", "    then: pause_couple_therapy\n    indicator: critical")],
        [("yaml_syntax", TITLE_LINE), ("unknown_recommendation", "then: pause_couples_therapy\n    indicator: critical"),
         ("yaml_syntax", "    priority: 2\n")],
        id="two-tabs-and-a-recommendation"),
    pytest.param(  # the blanked line held a required key of rule CA-001: that absence is not reported
        [(TITLE_LINE, TAB_LINE)], [("yaml_syntax", TITLE_LINE)], id="no-missing-title-from-the-blanking"),
    pytest.param(  # blanking `- id: CA-002` joins two rules into one: no duplicate-key echo
        [("  - id: CA-002\n", "\t- id: CA-002\n")], [("yaml_syntax", "  - id: CA-002\n")], id="no-duplicate-echo"),
])
def test_every_mistake_of_a_file_with_a_syntax_error(edits, expected):
    found = [(p.code, p.line) for p in _problems(*edits)]
    assert found == [(code, _line(needle)) for code, needle in expected]


def test_an_unclosed_quote_is_one_error_not_an_echo_per_quote_after_it():
    source = '    source: "Flexible Approaches to Couples Therapy, 3. Therapist Recommendation Based on Progress; FAQ 4"'
    problems = _problems((source, source[:-30]))
    assert [p.code for p in problems] == ["yaml_syntax"]


def test_a_file_without_a_syntax_error_is_not_read_twice(monkeypatch):
    import engine.policy.loader as loader

    calls = []
    monkeypatch.setattr(loader, "read_past", lambda *a: calls.append(a) or [])
    _problems(("review_after_consecutive_missed: 3", "review_after_consecutive_missed: three"))
    assert calls == []
